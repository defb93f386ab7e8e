"""The verifiers against the golden proof probes of transparency-dev/merkle (Apache-2.0): its
testdata/inclusion and testdata/consistency, which its proof/verify_test.go checks its verifiers with.

They are ported here the way its cmd/proofgen/main.go (commit 417fb0c) writes them: the same known-good
proofs over the Certificate Transparency reference tree (the eight leaves of certificate-transparency's
merkle_tree_test), the same corruptions in the same order, the same descriptions. Each probe's id is its
file's path under testdata, less ".json", so a failure names the file to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clipwarden.audit.merkle import leaf_hash, verify_consistency, verify_inclusion

U64 = 1 << 64  # the Go code's indexes and sizes are uint64: 0 - 1 wraps around

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_TREE_HASH = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

# Leaves 1 to 6 of the reference tree as proofgen has them (the unused 4 and 5 left empty), and the roots of
# its first 1 to 8 leaves.
LEAVES = [bytes.fromhex(leaf) for leaf in ["", "00", "10", "", "", "40414243"]]
ROOTS = [
    bytes.fromhex(root)
    for root in [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(hexed) for hexed in hexes]


# (leaf number counted from 1, tree size, audit path)
INCLUSION_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hashes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (3, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        2,
        5,
        _hashes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (first size, second size, consistency proof)
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hashes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

# Where this verifier is stricter than transparency-dev/merkle's: that one compares equal roots of equal sizes
# without checking their length; this one refuses any hash that is not 32 bytes ("don't care 2" is 12).
STRICTER = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty"}


@dataclass(frozen=True)
class InclusionProbe:
    path: str
    index: int
    size: int
    root: bytes
    leaf_hash: bytes
    proof: list[bytes]
    valid: bool = False


@dataclass(frozen=True)
class ConsistencyProbe:
    path: str
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]
    valid: bool = False


def _file_name(desc: str) -> str:
    return desc.replace(" - ", "-").replace("(", "").replace(")", "").replace(" ", "-")


def _flipped(proof: list[bytes], at: int, bit: int) -> list[bytes]:
    node = proof[at]
    return [*proof[:at], bytes([node[0] ^ bit]) + node[1:], *proof[at + 1 :]]


def _invalid_inclusion(
    dir_: str, index: int, size: int, proof: list[bytes], root: bytes, hashed: bytes
) -> list[InclusionProbe]:
    """proofgen's invalidInclusionProof."""

    def probe(desc: str, index: int, size: int, root: bytes, hashed: bytes, proof: list[bytes]) -> InclusionProbe:
        return InclusionProbe(f"{dir_}/{_file_name(desc)}", index, size, root, hashed, proof)

    probes = [
        probe("leafIdx sub @1", (index - 1) % U64, size, root, hashed, proof),
        probe("leafIdx plus @1", index + 1, size, root, hashed, proof),
        probe("leafIdx XOR @2", index ^ 2, size, root, hashed, proof),
        probe("treeSize mul @2", index, size * 2, root, hashed, proof),
        probe("treeSize div @2", index, size // 2, root, hashed, proof),
        probe("wrong leaf", index, size, root, b"WrongLeaf", proof),
        probe("empty root", index, size, EMPTY_TREE_HASH, hashed, proof),
        probe("random root", index, size, SOME_HASH, hashed, proof),
        probe("trailing garbage", index, size, root, hashed, [*proof, b""]),
        probe("trailing root", index, size, root, hashed, [*proof, root]),
        probe("preceding garbage", index, size, root, hashed, [b"", *proof]),
        probe("preceding root", index, size, root, hashed, [root, *proof]),
    ]
    for at in range(len(proof)):
        probes.append(probe(f"modified proof[{at}] bit @3", index, size, root, hashed, _flipped(proof, at, 8)))
    if proof:
        probes.append(probe("removed component", index, size, root, hashed, proof[:-1]))
    if len(proof) > 1:
        probes.append(probe("inserted component", index, size, root, hashed, [proof[0], SOME_HASH, *proof[1:]]))
    return probes


def inclusion_probes() -> list[InclusionProbe]:
    probes = []
    for number, (leaf_number, size, proof) in enumerate(INCLUSION_PROOFS):
        index, root = leaf_number - 1, ROOTS[size - 1]
        hashed = leaf_hash(LEAVES[index])
        probes.append(InclusionProbe(f"inclusion/{number}/happy-path", index, size, root, hashed, proof, True))
        probes += _invalid_inclusion(f"inclusion/{number}", index, size, proof, root, hashed)
    for number, (index, size) in enumerate([(0, 0), (0, 1), (1, 0), (2, 1)]):
        for root, hashed, desc in [
            (b"", SOME_HASH, "random leaf"),
            (EMPTY_TREE_HASH, b"", "empty root"),
            (EMPTY_TREE_HASH, SOME_HASH, "empty root and random leaf"),
        ]:
            probes.append(
                InclusionProbe(f"inclusion/additional/{number}/{_file_name(desc)}", index, size, root, hashed, [])
            )
    data = leaf_hash(b"data")  # a one-leaf tree: its root is its leaf hash, its proof is empty
    for root, hashed, desc, valid in [
        (data, data, "matching root and leaf", True),
        (data, b"", "empty leaf", False),
        (b"", data, "empty root", False),
        (b"", b"", "empty root and leaf", False),
    ]:
        probes.append(InclusionProbe(f"inclusion/single-entry/{_file_name(desc)}", 0, 1, root, hashed, [], valid))
    return probes


def _invalid_consistency(
    dir_: str, first: int, second: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> list[ConsistencyProbe]:
    """proofgen's invalidConsistencyProof."""

    def probe(desc: str, first: int, second: int, root1: bytes, root2: bytes, proof: list[bytes]) -> ConsistencyProbe:
        return ConsistencyProbe(f"{dir_}/{_file_name(desc)}", first, second, root1, root2, proof)

    probes = [
        probe("size1 sub @1", (first - 1) % U64, second, root1, root2, proof),
        probe("size1 plus @1", first + 1, second, root1, root2, proof),
        probe("size1 XOR @2", first ^ 2, second, root1, root2, proof),
        probe("size2 mul @2", first, second * 2, root1, root2, proof),
        probe("size2 div @2", first, second // 2, root1, root2, proof),
        probe("wrong root1", first, second, b"WrongRoot", root2, proof),
        probe("wrong root2", first, second, root1, b"WrongRoot", proof),
        probe("swapped roots", first, second, root2, root1, proof),
        probe("empty proof", first, second, root1, root2, []),
        probe("trailing garbage", first, second, root1, root2, [*proof, b""]),
        probe("trailing root1", first, second, root1, root2, [*proof, root1]),
        probe("trailing root2", first, second, root1, root2, [*proof, root2]),
        probe("preceding garbage", first, second, root1, root2, [b"", *proof]),
        probe("preceding root1", first, second, root1, root2, [root1, *proof]),
        probe("preceding root2", first, second, root1, root2, [root2, *proof]),
        probe("preceding proof @0", first, second, root1, root2, [proof[0], *proof]),
    ]
    if proof:
        probes.append(probe("truncated proof", first, second, root1, root2, proof[:-1]))
    for at in range(len(proof)):
        probes.append(probe(f"modified proof@{at} bit @4", first, second, root1, root2, _flipped(proof, at, 16)))
    return probes


def consistency_probes() -> list[ConsistencyProbe]:
    probes = []
    for number, (first, second, proof) in enumerate(CONSISTENCY_PROOFS):
        root1, root2 = ROOTS[first - 1], ROOTS[second - 1]
        probes.append(ConsistencyProbe(f"consistency/{number}/happy-path", first, second, root1, root2, proof, True))
        if proof:  # proofgen corrupts only the proofs that have nodes
            probes += _invalid_consistency(f"consistency/{number}", first, second, root1, root2, proof)
    care1, care2, empty = b"don't care 1", b"don't care 2", EMPTY_TREE_HASH
    for first, second, root1, root2, proof, desc, valid in [
        (0, 0, care1, care2, [], "sizes are equal (zero) but roots are not", False),
        (1, 1, care1, care2, [], "sizes are equal (one) but roots are not", False),
        (0, 0, care1, care1, [], "sizes are equal (zero) and proof is empty", False),
        (0, 1, care1, care2, [], "size1 is zero and does not equal size2", False),
        (1, 1, care2, care2, [], "sizes are equal (one) and proof is empty", True),
        (1, 0, care1, care2, [], "size1 is greater than size2", False),
        (2, 1, care1, care2, [], "size1 is greater than size2 again", False),
        (1, 2, care1, care2, [], "sizes do not watch and proof is empty", False),
        (0, 0, empty, care2, [], "roots do not match and sizes are zero", False),
        (1, 1, empty, care2, [], "roots do not not match and sizes are one", False),
        (0, 0, empty, empty, [empty], "sizes match but proof is not empty and sizes are zero", False),
        (1, 1, empty, empty, [empty], "sizes match but proof is not empty and sizes are one", False),
        (0, 1, empty, care2, [], "size1 is zero and size2 is not zero", False),
        (0, 1, empty, empty, [empty], "consistency check on empty tree (size1 is zero) is useless", False),
    ]:
        path = f"consistency/additional/{_file_name(desc)}"
        probes.append(ConsistencyProbe(path, first, second, root1, root2, proof, valid and path not in STRICTER))
    return probes


def test_every_probe_file_is_ported() -> None:
    # testdata/inclusion and testdata/consistency hold 98 files each, each path once.
    assert len({probe.path for probe in inclusion_probes()}) == len(inclusion_probes()) == 98
    assert len({probe.path for probe in consistency_probes()}) == len(consistency_probes()) == 98


@pytest.mark.parametrize("probe", inclusion_probes(), ids=lambda probe: probe.path)
def test_inclusion_probes(probe: InclusionProbe) -> None:
    assert verify_inclusion(probe.leaf_hash, probe.index, probe.size, probe.proof, probe.root) is probe.valid


@pytest.mark.parametrize("probe", consistency_probes(), ids=lambda probe: probe.path)
def test_consistency_probes(probe: ConsistencyProbe) -> None:
    verdict = verify_consistency(probe.first, probe.second, probe.first_root, probe.second_root, probe.proof)
    assert verdict is probe.valid
