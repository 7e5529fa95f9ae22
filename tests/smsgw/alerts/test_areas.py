"""A CAP alert's areas → the districts it goes to (smsgw.alerts.areas)."""

from __future__ import annotations

import dataclasses

import pytest

from smsgw.alerts.areas import districts_of
from smsgw.alerts.cap import Area, parse
from smsgw.config import DistrictsConfig
from subscriptions.districts import Districts
from tests.smsgw.alerts.cap_testbed import alert, info

DISTRICTS: Districts = DistrictsConfig.model_validate({}).index()  # Belize's


@pytest.mark.parametrize(
    ("areas", "expected"),
    [
        ([Area("Toledo")], ("Toledo",)),
        ([Area("Toledo District"), Area("stann creek")], ("Stann Creek", "Toledo")),
        ([Area("Stann Creek; Toledo and Cayo")], ("Cayo", "Stann Creek", "Toledo")),
        ([Area("Southern coast", (("ISO3166-2", "BZ-TOL"),))], ("Toledo",)),
        ([Area("Dangriga town")], None),  # not a district's name: the whole country
        ([Area("Toledo"), Area("Belize and Guatemala")], None),  # one area unknown: everyone
        ([], None),
    ],
    ids=["name", "suffix-and-case", "list", "geocode", "unknown", "one-unknown", "no-area"],
)  # fmt: skip
def test_an_alerts_areas_name_its_districts_or_it_goes_to_everyone(
    areas: list[Area], expected: tuple[str, ...] | None
) -> None:
    infos = tuple(dataclasses.replace(i, areas=tuple(areas)) for i in parse(alert(info())).infos)
    assert districts_of(infos, DISTRICTS) == expected


def test_the_areas_of_every_info_count() -> None:
    document = alert(info(areas=("Toledo",)), info(language="es-BZ", areas=("Cayo",)))
    assert districts_of(parse(document).infos, DISTRICTS) == ("Cayo", "Toledo")
