"""Where a report goes (DESIGN §6): point → grid → village → township centre, or the county
centre for urgent reports where the county says so; category → grid worker or department, with
the township centre as territorial fallback (属地兜底)."""

from __future__ import annotations

from dataclasses import dataclass

from gridgov.core import codes, refcache
from gridgov.geo.crs import CRS
from gridgov.geo.locator import Location
from gridgov.orgs.models import OrgUnit
from gridgov.regions.locator import get_locator
from gridgov.regions.models import Region

from .models import Category, IntakeConfig

# Beyond this distance from every grid a report is refused rather than guessed; nearer, it goes
# to the nearest grid and is flagged for the operator to confirm the location.
MAX_OUTSIDE_M = 2000.0


class RoutingError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Route:
    location: Location
    grid_code: str
    village: Region
    township_centre: OrgUnit
    county_centre: OrgUnit | None
    receiving_centre: OrgUnit
    handling_level: str
    notify_township: bool


def locate(lon: float, lat: float, crs: CRS | str) -> Location:
    hit = get_locator().locate(lon, lat, crs)
    if hit is None:
        raise RoutingError("location", "no grids are loaded")
    if not hit.inside and hit.distance_m > MAX_OUTSIDE_M:
        raise RoutingError(
            "location", f"the point is {hit.distance_m:,.0f} m outside every grid of this platform"
        )
    return hit


def centre_of(region_code: str) -> OrgUnit | None:
    """The governance centre serving a region (township, county or city), by its region."""
    return refcache.cached(
        ("centre", region_code),
        lambda: OrgUnit.objects.filter(
            kind=OrgUnit.Kind.CENTRE, region_id=region_code, active=True
        ).first(),
    )


def route(lon: float, lat: float, crs: CRS | str, urgent: bool) -> Route:
    hit = locate(lon, lat, crs)
    village = refcache.cached(
        ("village", codes.village_of(hit.code)),
        lambda: Region.objects.get(code=codes.village_of(hit.code)),
    )
    township_code, county_code = codes.township_of(hit.code), codes.county_of(hit.code)
    township_centre = centre_of(township_code)
    if township_centre is None:
        raise RoutingError("location", f"no governance centre serves township {township_code}")
    county_centre = centre_of(county_code)
    config = refcache.cached(
        ("intake", county_code), lambda: IntakeConfig.objects.filter(county_id=county_code).first()
    )
    to_county = urgent and county_centre is not None and (config is None or config.urgent_to_county)
    return Route(
        location=hit,
        grid_code=hit.code,
        village=village,
        township_centre=township_centre,
        county_centre=county_centre,
        receiving_centre=county_centre if to_county and county_centre else township_centre,
        handling_level="county" if to_county else "township",
        notify_township=to_county,
    )


def township_centre(grid_code: str) -> OrgUnit:
    centre = centre_of(codes.township_of(grid_code))
    if centre is None:
        raise RoutingError(
            "location", f"no governance centre serves {codes.township_of(grid_code)}"
        )
    return centre


def department_for(category: Category, grid_code: str) -> OrgUnit | None:
    """The department of the category's function whose jurisdiction covers the grid, the most
    local first (a county branch before the city bureau)."""
    if category.function_id is None:
        return None
    covering = [grid_code[:n] for n in sorted(codes.LENGTH.values()) if n < len(grid_code)]
    return (
        OrgUnit.objects.filter(
            kind=OrgUnit.Kind.DEPARTMENT,
            function_id=category.function_id,
            active=True,
            region_id__in=covering,
        )
        .order_by("-region_id")
        .first()
    )


def default_handler(
    category: Category, grid_code: str, township_centre: OrgUnit
) -> tuple[str, OrgUnit | None, str]:
    """(assignee kind, unit, grid) a category sends its events to by default."""
    if category.handler_kind == Category.HandlerKind.GRID:
        return "grid", None, grid_code
    if category.handler_kind == Category.HandlerKind.DEPARTMENT:
        unit = department_for(category, grid_code)
        if unit is not None:
            return "unit", unit, ""
    return "unit", township_centre, ""  # 属地兜底
