"""The demo city (Shijiazhuang): real division codes and county boundaries, synthetic grids,
centres, departments and accounts. Outside the domain apps: nothing in them depends on it."""
