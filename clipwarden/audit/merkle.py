"""RFC 6962 Merkle tree hashing (section 2.1; the same in RFC 9162): pure functions and an incremental tree.

Leaves hash as SHA-256(0x00 || leaf), interior nodes as SHA-256(0x01 || left || right); a tree of n > 1
leaves splits at the largest power of two smaller than n, and the empty tree hashes as SHA-256("").

``MerkleTree`` keeps the hash of every complete ("perfect") subtree of 2**k leaves aligned at a multiple
of 2**k, level by level, each level one contiguous ``bytearray`` of 32-byte hashes. Every node is computed
once, when its last leaf arrives. A tree of any size m splits into at most log2(m) such perfect subtrees
(one per set bit of m), so a root, an audit path or a consistency proof is O(log n) lookups plus hashing
the few right-edge subtrees that are not perfect.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2; they answer False for any malformed proof,
including a hash that is not 32 bytes and a consistency proof from the empty tree, as transparency-dev/merkle's
verifiers do (every tree extends the empty one, so such a proof would vouch for any second root).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 6962 tree over leaf hashes; roots and proofs for any size up to the current one."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # _levels[k] holds the perfect subtrees of 2**k leaves, 32 bytes each, left to right.
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes (each 32 bytes) and hash every subtree they complete; all or nothing."""
        added = list(leaf_hashes)
        wrong = next((hashed for hashed in added if len(hashed) != HASH_SIZE), None)
        if wrong is not None:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(wrong)}")
        if not added:
            return
        self._levels[0] += b"".join(added)
        sha256 = hashlib.sha256  # a local name: this loop runs once per node
        level = 0
        while len(self._levels[level]) >= 2 * HASH_SIZE:
            if level + 1 == len(self._levels):
                self._levels.append(bytearray())
            children, parents = self._levels[level], self._levels[level + 1]
            # The complete pairs of children that have no parent yet, each 64 bytes: left || right.
            pairs = bytes(children[2 * len(parents) : len(children) // 64 * 64])
            parents += b"".join([sha256(b"\x01" + pairs[at : at + 64]).digest() for at in range(0, len(pairs), 64)])
            level += 1

    def leaf_hash(self, index: int) -> bytes:
        self._check_size(index + 1)
        return self._node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]); the whole tree by default."""
        size = self.size if size is None else size
        self._check_size(size)
        return self._range(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 2.1.1: the audit path, from the leaf's sibling upwards."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        path = []
        low, high = 0, size
        while high - low > 1:
            middle = low + _split(high - low)
            if index < middle:
                path.append(self._range(middle, high))
                high = middle
            else:
                path.append(self._range(low, middle))
                low = middle
        path.reverse()
        return path

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 2.1.2, for 0 < first <= second; empty when they are equal."""
        second = self.size if second is None else second
        self._check_size(second)
        if not 0 < first <= second:
            raise ValueError(f"no consistency proof from size {first} to size {second}")
        if first == second:
            return []
        proof = []
        low, high, first_is_whole_subtree = 0, second, True
        while first != high:
            middle = low + _split(high - low)
            if first <= middle:
                proof.append(self._range(middle, high))
                high = middle
            else:
                proof.append(self._range(low, middle))
                low, first_is_whole_subtree = middle, False
        if not first_is_whole_subtree:
            proof.append(self._range(low, high))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is beyond a tree of {self.size}")

    def _node(self, level: int, position: int) -> bytes:
        at = position * HASH_SIZE
        return bytes(self._levels[level][at : at + HASH_SIZE])

    def _range(self, low: int, high: int) -> bytes:
        """MTH(D[low:high]) for a range that RFC 6962's recursion produces: ``low`` is a multiple of the
        range's largest power of two, so the range is perfect subtrees, largest first, folded right to left."""
        parts = []
        while low < high:
            level = (high - low).bit_length() - 1
            parts.append(self._node(level, low >> level))
            low += 1 << level
        hashed = parts.pop()
        while parts:
            hashed = node_hash(parts.pop(), hashed)
        return hashed


def _are_hashes(*hashes: bytes) -> bool:
    return all(len(hashed) == HASH_SIZE for hashed in hashes)


def root_of(leaf_hashes: Iterable[bytes]) -> bytes:
    return MerkleTree(leaf_hashes).root()


def verify_inclusion(hashed_leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether ``path`` proves leaf ``index`` of a tree of ``size`` with that root (RFC 9162 2.1.3.2)."""
    if not 0 <= index < size or not _are_hashes(hashed_leaf, root, *path):
        return False
    node, last, hashed = index, size - 1, hashed_leaf
    for sibling in path:
        if last == 0:
            return False
        if node & 1 or node == last:
            hashed = node_hash(sibling, hashed)
            while not node & 1 and node:
                node, last = node >> 1, last >> 1
        else:
            hashed = node_hash(hashed, sibling)
        node, last = node >> 1, last >> 1
    return last == 0 and hashed == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of ``second`` leaves extends that of ``first`` (RFC 9162 2.1.4.2)."""
    if not 0 < first <= second or not _are_hashes(first_root, second_root, *proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    # When the old tree is one perfect subtree, its root is the proof's implicit first element.
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    node, last = first - 1, second - 1
    while node & 1:
        node, last = node >> 1, last >> 1
    first_hash = second_hash = path[0]
    for sibling in path[1:]:
        if last == 0:
            return False
        if node & 1 or node == last:
            first_hash = node_hash(sibling, first_hash)
            second_hash = node_hash(sibling, second_hash)
            while not node & 1 and node:
                node, last = node >> 1, last >> 1
        else:
            second_hash = node_hash(second_hash, sibling)
        node, last = node >> 1, last >> 1
    return last == 0 and first_hash == first_root and second_hash == second_root
