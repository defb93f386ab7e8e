"""The simulated world's cast: households (owner, address, jurisdiction), their occupants and pets,
and their cameras (placement, motion masks, privacy zones).

Everything here is decided by the seed alone and is cheap; what happens over time is in routines.py and
sources.py. Each household draws from its own random stream, so household 3 is the same whether the fleet
has 4 households or 4000.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from clipwarden.domain import JURISDICTIONS, PLACEMENTS, Camera, Household, Jurisdiction, Placement, Zone
from clipwarden.sim.config import SimConfig
from clipwarden.sim.layout import SceneLayout, build_layout
from clipwarden.sim.seeding import rng_for

Role = Literal["worker", "student", "homebody"]
Species = Literal["cat", "dog"]


@dataclass(frozen=True)
class Occupant:
    key: str  # also the appearance key: the same person looks the same on every camera
    role: Role
    adult: bool


@dataclass(frozen=True)
class Pet:
    key: str
    species: Species


@dataclass(frozen=True)
class Home:
    """A household with everything the simulator knows about it and the pipeline does not."""

    household: Household
    utc_offset_h: float
    occupants: tuple[Occupant, ...]
    pets: tuple[Pet, ...]
    cameras: tuple[Camera, ...]
    layouts: dict[str, SceneLayout]  # by camera id

    def cameras_at(self, *placements: str) -> list[Camera]:
        return [c for c in self.cameras if c.placement in placements]


CAMERA_NAMES: dict[str, str] = {
    "entrance": "Front door",
    "living_room": "Living room",
    "kitchen": "Kitchen",
    "bedroom": "Bedroom",
    "backyard": "Backyard",
}
UTC_OFFSETS: dict[Jurisdiction, tuple[float, ...]] = {
    "US": (-5.0, -6.0, -8.0),
    "EU": (0.0, 1.0, 2.0),
    "IN": (5.5,),
}
_PEOPLE: dict[Jurisdiction, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "US": (
        ("James", "Maria", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer"),
        ("Smith", "Johnson", "Garcia", "Miller", "Davis", "Lopez"),
        ("Elm Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Pine Road"),
        ("Springfield", "Riverside", "Fairview", "Greenville", "Madison"),
    ),
    "EU": (
        ("Lukas", "Emma", "Mateo", "Sofia", "Jan", "Anna", "Pierre", "Giulia"),
        ("Müller", "Rossi", "Dubois", "Novak", "Jansen", "García"),
        ("Lindenstraße", "Rue des Lilas", "Via Roma", "Kerkstraat", "Calle Mayor"),
        ("Berlin", "Lyon", "Bologna", "Utrecht", "Valencia", "Brno"),
    ),
    "IN": (
        ("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Kavya", "Arjun", "Meera"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Singh", "Gupta"),
        ("MG Road", "Park Street", "Nehru Nagar", "Gandhi Marg"),
        ("Pune", "Bengaluru", "Jaipur", "Kochi", "Lucknow"),
    ),
}


def build_homes(config: SimConfig) -> list[Home]:
    fleet_rng = rng_for(config.seed, "fleet")
    # Every run of three households covers all jurisdictions; beyond that the mix is weighted.
    first = [JURISDICTIONS[i] for i in fleet_rng.permutation(len(JURISDICTIONS))]
    # Households take consecutive placements of one shuffled cycle, so a small fleet still has every kind
    # of camera while each household gets its own mix.
    cycle = [PLACEMENTS[i] for i in fleet_rng.permutation(len(PLACEMENTS))]
    homes = []
    for i in range(config.households):
        rng = rng_for(config.seed, "household", i)
        jurisdiction = first[i] if i < len(first) else JURISDICTIONS[int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
        at = i * config.cameras_per_household
        placements = [cycle[(at + j) % len(cycle)] for j in range(config.cameras_per_household)]
        homes.append(_home(config, i, jurisdiction, placements, rng))
    return homes


def _home(
    config: SimConfig,
    index: int,
    jurisdiction: Jurisdiction,
    placements: list[Placement],
    rng: np.random.Generator,
) -> Home:
    hid = f"hh-{config.seed}-{index:04d}"
    firsts, lasts, streets, towns = _PEOPLE[jurisdiction]
    household = Household(
        id=hid,
        jurisdiction=jurisdiction,
        plan=str(rng.choice(["free", "plus", "pro"], p=[0.75, 0.17, 0.08])),
        owner_name=f"{_one(rng, firsts)} {_one(rng, lasts)}",
        address=_address(jurisdiction, rng, _one(rng, streets), _one(rng, towns)),
    )
    offsets = UTC_OFFSETS[jurisdiction]
    layouts: dict[str, SceneLayout] = {}
    cameras: list[Camera] = []
    for j, placement in enumerate(placements):
        cid = f"cam-{config.seed}-{index:04d}-{j}"
        layouts[cid] = build_layout(placement, rng_for(config.seed, "layout", cid))
        cameras.append(_camera(config, hid, cid, placement, layouts[cid]))
    return Home(
        household=household,
        utc_offset_h=offsets[int(rng.integers(len(offsets)))],
        occupants=_occupants(hid, rng),
        pets=tuple(
            Pet(f"{hid}/pet{k}", "cat" if rng.random() < 0.55 else "dog")
            for k in range(int(rng.choice(3, p=[0.3, 0.45, 0.25])))
        ),
        cameras=tuple(cameras),
        layouts=layouts,
    )


def _occupants(hid: str, rng: np.random.Generator) -> tuple[Occupant, ...]:
    count = int(rng.choice([1, 2, 3, 4], p=[0.25, 0.35, 0.22, 0.18]))
    adults = 1 if count == 1 or rng.random() < 0.15 else 2
    roles: list[Role] = [
        ("worker" if rng.random() < 0.7 else "homebody") if k < adults else "student" for k in range(count)
    ]
    return tuple(Occupant(f"{hid}/p{k}", role, k < adults) for k, role in enumerate(roles))


def _camera(config: SimConfig, hid: str, cid: str, placement: Placement, layout: SceneLayout) -> Camera:
    rng = rng_for(config.seed, "zones", cid)
    masks: list[Zone] = []
    privacy: list[Zone] = []
    # Owners mask what moves all day (a tree, a window with curtains) and hide what is not theirs to film.
    if layout.tree is not None and rng.random() < 0.7:
        masks.append(layout.tree.bounds().polygon(0.02))
    if layout.window is not None and rng.random() < 0.3:
        masks.append(layout.window.polygon(0.03))
    if layout.neighbour_window is not None and rng.random() < 0.6:
        privacy.append(layout.neighbour_window.polygon(0.01))
    return Camera(
        id=cid,
        household_id=hid,
        name=CAMERA_NAMES[placement],
        placement=placement,
        width=config.width,
        height=config.height,
        fps=config.fps,
        motion_masks=tuple(masks),
        privacy_zones=tuple(privacy),
    )


def _one(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _address(jurisdiction: Jurisdiction, rng: np.random.Generator, street: str, town: str) -> str:
    number = int(rng.integers(1, 120))
    if jurisdiction == "US":
        return f"{number} {street}, {town}"
    if jurisdiction == "EU":
        return f"{street} {number}, {int(rng.integers(10000, 99999))} {town}"
    return f"{number}, {street}, {town} {int(rng.integers(110000, 855000))}"
