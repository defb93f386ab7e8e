"""The Merkle core against a reference written here, straight from RFC 6962 section 2.1 (MTH, PATH, SUBPROOF
and PROOF as the RFC defines them, recursively, and verifiers that replay those definitions), so that a
mistake shared by the library's builder and its verifier still shows."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clipwarden.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

# The reference: RFC 6962 2.1, over the leaf data D[0:n].


def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return ref_leaf(leaves[0])
    k = ref_k(len(leaves))
    return ref_node(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = ref_k(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], b), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True)


def ref_verify_inclusion(leaf: bytes, m: int, n: int, path: list[bytes], root: bytes) -> bool:
    """Rebuild the root by walking PATH's definition back up from the leaf."""
    remaining = list(path)

    def up(m: int, n: int) -> bytes | None:
        if n == 1:
            return leaf
        if not remaining:
            return None
        sibling = remaining.pop()  # PATH puts the top level last
        k = ref_k(n)
        below = up(m, k) if m < k else up(m - k, n - k)
        if below is None:
            return None
        return ref_node(below, sibling) if m < k else ref_node(sibling, below)

    if not 0 <= m < n:
        return False
    rebuilt = up(m, n)
    return rebuilt is not None and not remaining and rebuilt == root


def ref_verify_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> bool:
    """Rebuild both roots by walking SUBPROOF's definition: each call gives (hash of the old leaves in this
    subtree, hash of the whole subtree)."""
    remaining = list(proof)

    def up(m: int, n: int, b: bool) -> tuple[bytes, bytes] | None:
        if m == n:
            if b:
                return old_root, old_root
            return (remaining[-1], remaining.pop()) if remaining else None
        if not remaining:
            return None
        top = remaining.pop()
        k = ref_k(n)
        if m <= k:
            below = up(m, k, b)
            return None if below is None else (below[0], ref_node(below[1], top))
        below = up(m - k, n - k, False)
        return None if below is None else (ref_node(top, below[0]), ref_node(top, below[1]))

    if not 0 < m <= n:
        return False
    rebuilt = up(m, n, True)
    return rebuilt == (old_root, new_root) and not remaining


def leaves_of(n: int, salt: int = 0) -> list[bytes]:
    return [f"leaf {salt} {i}".encode() for i in range(n)]


def tree_of(leaves: list[bytes]) -> MerkleTree:
    return MerkleTree(leaf_hash(leaf) for leaf in leaves)


def tampered(proof: list[bytes]) -> list[list[bytes]]:
    """Every way to spoil a proof a little: one bit of one node flipped, a node dropped, a node added."""
    spoiled = []
    for at, node in enumerate(proof):
        flipped = bytes([node[0] ^ 1]) + node[1:]
        spoiled.append([*proof[:at], flipped, *proof[at + 1 :]])
    if proof:
        spoiled.append(proof[:-1])
    spoiled.append([*proof, hashlib.sha256(b"extra").digest()])
    return spoiled


# Known answers


def test_empty_tree_hash_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree().root() == EMPTY_ROOT
    assert root_of([]) == EMPTY_ROOT


def test_rfc6962_vector_for_one_empty_leaf() -> None:
    expected = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"").hex() == expected
    assert MerkleTree([leaf_hash(b"")]).root().hex() == expected


def test_hashes_of_any_other_length_are_refused() -> None:
    tree = tree_of(leaves_of(5))
    leaf, path, root = ref_leaf(b"leaf 0 2"), tree.inclusion_proof(2), tree.root()
    assert verify_inclusion(leaf, 2, 5, path, root)
    assert not verify_inclusion(b"", 0, 1, [], b"")  # equal, but not hashes
    assert not verify_inclusion(leaf[:31], 0, 1, [], leaf[:31])
    assert not verify_inclusion(leaf, 2, 5, [*path[:-1], path[-1] + b"\0"], root)
    proof, old = tree.consistency_proof(3), tree.root(3)
    assert verify_consistency(3, 5, old, root, proof)
    assert not verify_consistency(3, 3, old + b"\0", old + b"\0", [])
    assert not verify_consistency(3, 5, old, root, [proof[0][:16], *proof[1:]])


# Every size from 1 to 64, exhaustively


@pytest.mark.parametrize("n", range(1, 65))
def test_roots_and_inclusion_proofs_match_the_reference(n: int) -> None:
    leaves = leaves_of(n)
    tree = tree_of(leaves)
    assert tree.size == n
    for size in range(n + 1):
        assert tree.root(size) == ref_mth(leaves[:size])
    root = ref_mth(leaves)
    for m in range(n):
        proof = tree.inclusion_proof(m)
        assert proof == ref_path(m, leaves)
        assert ref_verify_inclusion(ref_leaf(leaves[m]), m, n, proof, root)
        assert verify_inclusion(ref_leaf(leaves[m]), m, n, ref_path(m, leaves), root)


@pytest.mark.parametrize("n", range(1, 65))
def test_consistency_proofs_match_the_reference(n: int) -> None:
    leaves = leaves_of(n)
    tree = tree_of(leaves)
    new_root = ref_mth(leaves)
    for m in range(1, n + 1):
        proof = tree.consistency_proof(m, n)
        old_root = ref_mth(leaves[:m])
        assert proof == ref_proof(m, leaves)
        assert ref_verify_consistency(m, n, old_root, new_root, proof)
        assert verify_consistency(m, n, old_root, new_root, ref_proof(m, leaves))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 32, 33])
def test_tampered_inclusion_proofs_fail(n: int) -> None:
    leaves = leaves_of(n)
    tree = tree_of(leaves)
    root = tree.root()
    for m in range(n):
        proof, leaf = tree.inclusion_proof(m), ref_leaf(leaves[m])
        for spoiled in tampered(proof):
            assert not verify_inclusion(leaf, m, n, spoiled, root)
            assert not ref_verify_inclusion(leaf, m, n, spoiled, root)
        assert not verify_inclusion(ref_leaf(b"forged"), m, n, proof, root)
        assert not verify_inclusion(leaf, m, n, proof, ref_mth([*leaves[:-1], b"forged"]))
        assert not verify_inclusion(leaf, m + 1, n, proof, root)
        assert not verify_inclusion(leaf, -1, n, proof, root)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 32, 33])
def test_tampered_consistency_proofs_fail(n: int) -> None:
    leaves = leaves_of(n)
    tree = tree_of(leaves)
    new_root = tree.root()
    for m in range(1, n):
        proof, old_root = tree.consistency_proof(m, n), tree.root(m)
        for spoiled in tampered(proof):
            assert not verify_consistency(m, n, old_root, new_root, spoiled)
            assert not ref_verify_consistency(m, n, old_root, new_root, spoiled)
        assert not verify_consistency(m, n, ref_mth(leaves_of(m, salt=1)), new_root, proof)
        assert not verify_consistency(m, n, old_root, ref_mth(leaves_of(n, salt=1)), proof)
        assert not verify_consistency(n, m, old_root, new_root, proof)


def test_trivial_consistency_proofs() -> None:
    tree = tree_of(leaves_of(7))
    assert tree.consistency_proof(7, 7) == []
    # Every tree extends the empty one: a proof from size 0 would vouch for any second root.
    assert not verify_consistency(0, 7, EMPTY_ROOT, tree.root(), [])
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(7, 7, tree.root(), tree.root(), [])
    assert not verify_consistency(7, 7, tree.root(), tree.root(6), [])
    assert not verify_consistency(3, 7, tree.root(3), tree.root(), [])


def test_bad_arguments_are_refused() -> None:
    tree = tree_of(leaves_of(4))
    with pytest.raises(ValueError):
        tree.inclusion_proof(4)
    with pytest.raises(ValueError):
        tree.inclusion_proof(2, size=2)
    with pytest.raises(ValueError):
        tree.root(5)
    with pytest.raises(ValueError):
        tree.consistency_proof(3, 2)
    with pytest.raises(ValueError):
        tree.consistency_proof(0, 2)
    with pytest.raises(ValueError):
        tree.extend([b"short"])
    assert tree.size == 4


# Larger and random sizes


@pytest.mark.parametrize("n", [127, 128, 129, 1000, 1023, 1024, 1025, random.Random(6962).randrange(1500, 3000)])
def test_larger_trees_sampled(n: int) -> None:
    leaves = leaves_of(n)
    tree = tree_of(leaves)
    root = ref_mth(leaves)
    assert tree.root() == root
    rng = random.Random(n)
    for m in {0, n - 1, *(rng.randrange(n) for _ in range(8))}:
        assert tree.inclusion_proof(m) == ref_path(m, leaves)
        assert ref_verify_inclusion(ref_leaf(leaves[m]), m, n, tree.inclusion_proof(m), root)
    for m in {1, n - 1, *(rng.randrange(1, n) for _ in range(8))}:
        assert tree.consistency_proof(m) == ref_proof(m, leaves)
        assert ref_verify_consistency(m, n, ref_mth(leaves[:m]), root, tree.consistency_proof(m))


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 200), data=st.data())
def test_inclusion_property(n: int, data: st.DataObject) -> None:
    leaves = data.draw(st.lists(st.binary(max_size=8), min_size=n, max_size=n))
    size = data.draw(st.integers(1, n))
    m = data.draw(st.integers(0, size - 1))
    tree = tree_of(leaves)
    root = ref_mth(leaves[:size])
    proof = tree.inclusion_proof(m, size)
    assert tree.root(size) == root
    assert ref_verify_inclusion(ref_leaf(leaves[m]), m, size, proof, root)
    assert verify_inclusion(ref_leaf(leaves[m]), m, size, ref_path(m, leaves[:size]), root)
    spoiled = data.draw(st.sampled_from(tampered(proof)))
    assert not verify_inclusion(ref_leaf(leaves[m]), m, size, spoiled, root)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 200), data=st.data())
def test_consistency_property(n: int, data: st.DataObject) -> None:
    leaves = data.draw(st.lists(st.binary(max_size=8), min_size=n, max_size=n))
    second = data.draw(st.integers(1, n))
    first = data.draw(st.integers(1, second))
    tree = tree_of(leaves)
    old_root, new_root = ref_mth(leaves[:first]), ref_mth(leaves[:second])
    proof = tree.consistency_proof(first, second)
    assert ref_verify_consistency(first, second, old_root, new_root, proof)
    assert verify_consistency(first, second, old_root, new_root, ref_proof(first, leaves[:second]))
    if first < second:
        spoiled = data.draw(st.sampled_from(tampered(proof)))
        assert not verify_consistency(first, second, old_root, new_root, spoiled)


@settings(max_examples=100, deadline=None)
@given(chunks=st.lists(st.integers(0, 40), max_size=12))
def test_growing_in_any_steps_gives_the_same_tree(chunks: list[int]) -> None:
    leaves = leaves_of(sum(chunks))
    grown = MerkleTree()
    start = 0
    for count in chunks:
        grown.extend(ref_leaf(leaf) for leaf in leaves[start : start + count])
        start += count
        assert grown.root() == ref_mth(leaves[:start])
    whole = tree_of(leaves)
    for m in range(0, len(leaves), 7):
        assert grown.inclusion_proof(m) == whole.inclusion_proof(m)
