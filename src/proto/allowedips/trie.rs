//! A path-compressed multibit trie for longest-prefix match (§2), in one `Vec` of nodes
//! linked by `u32` indices.
//!
//! Each node reads the next `STRIDE` (4) bits of the address at its `depth` (a multiple of
//! the stride) and has one slot per value of those bits. A slot holds the child to continue
//! in and `best`: the longest prefix of length `depth+1 ..= depth+4` in this node covering
//! the slot (prefix expansion: a `/depth+2` prefix fills 4 slots, a `/depth+4` one slot).
//! The zero-length prefix is kept apart. Nodes exist only where a prefix lives or where paths
//! diverge, so a child may sit many strides below its parent: each node stores the bits above
//! its depth (`key`) and a lookup stops where they stop matching. A subtree holding a single
//! prefix is not a node at all but a *leaf*: the child link names the prefix's entry, and the
//! lookup ends by comparing the address with it.
//!
//! A lookup therefore costs one node per populated stride on the address's path: for 10,000
//! random prefixes, about four dependent loads plus the leaf or value at the end.
//!
//! Every node holds prefixes and children adding up to at least two (emptier nodes are
//! spliced out or turned back into leaves on removal), so there are fewer nodes than
//! prefixes. Exact prefixes are found through a hash index (control plane only). Freed nodes
//! and entries are reused; when most are free the trie is rebuilt densely, so memory stays
//! proportional to the prefix count.

use super::key::Bits;
use std::collections::HashMap;

#[cfg(test)]
thread_local! {
    /// Whole-table walks (`iter`) on this thread: lets tests prove an operation walks nothing.
    pub(crate) static WALKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// "Nothing": an absent child, node, or prefix entry.
const NIL: u32 = u32::MAX;
/// Tag of a child link naming a leaf: the low bits are an entry index. Node indices stay
/// below it (2^31 nodes would need hundreds of gigabytes).
const LEAF: u32 = 1 << 31;
/// Address bits consumed per node.
const STRIDE: u8 = 4;
/// Slots per node.
const FANOUT: usize = 1 << STRIDE;
/// The `len` of an unused entry (longer than any address).
const FREE: u8 = u8::MAX;
/// Free nodes or entries tolerated before a rebuild is considered.
const COMPACT_MIN_FREE: usize = 64;

/// One of a node's `FANOUT` ways on.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The node to continue in, `LEAF | entry`, or `NIL`.
    child: u32,
    /// Entry of the longest prefix in this node covering this slot, or `NIL`.
    best: u32,
}

const EMPTY: Slot = Slot {
    child: NIL,
    best: NIL,
};

/// A node: the prefixes of length `depth+1 ..= depth+STRIDE` under `key`, and its children.
#[derive(Debug, Clone)]
struct Node<K> {
    /// The address bits above `depth` (the rest cleared).
    key: K,
    /// Bits consumed above this node: a multiple of `STRIDE`, less than the width.
    depth: u8,
    /// How many prefixes this node holds (at most 30).
    prefixes: u8,
    /// How many slots have a child or leaf (at most 16).
    children: u8,
    slots: [Slot; FANOUT],
}

/// A stored prefix and its value: what a lookup reads at a leaf or for its answer.
#[derive(Debug, Clone, Copy)]
struct Entry<K, V> {
    key: K,
    /// Prefix length, or `FREE`: no prefix matches that, so stale entries match nothing.
    len: u8,
    value: V,
}

/// Where a node hangs: the root, or the child of slot `.1` of node `.0`.
#[derive(Debug, Clone, Copy)]
enum Link {
    Root,
    Child(u32, usize),
}

/// The depth of the node holding prefixes of length `len` (at least 1).
fn home_depth(len: u8) -> u8 {
    (len.saturating_sub(1) / STRIDE) * STRIDE
}

/// A longest-prefix-match map from `K`-bit prefixes to `V`.
#[derive(Debug, Clone)]
pub(super) struct Trie<K, V> {
    nodes: Vec<Node<K>>,
    free_nodes: Vec<u32>,
    entries: Vec<Entry<K, V>>,
    /// `stamps[e]` is the caller's stamp of entry `e` (kept apart: lookups never read it).
    stamps: Vec<u64>,
    free_entries: Vec<u32>,
    /// (masked key, length) to entry, for exact-match insert and remove.
    index: HashMap<(K, u8), u32>,
    root: u32,
    /// Entry of the zero-length prefix, or `NIL`.
    default: u32,
}

impl<K: Bits, V: Copy> Default for Trie<K, V> {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            entries: Vec::new(),
            stamps: Vec::new(),
            free_entries: Vec::new(),
            index: HashMap::new(),
            root: NIL,
            default: NIL,
        }
    }
}

impl<K: Bits, V: Copy> Trie<K, V> {
    /// Number of stored prefixes.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// The value of the longest stored prefix containing `addr`.
    #[inline]
    pub(super) fn lookup(&self, addr: K) -> Option<&V> {
        let mut best = self.default;
        let mut at = self.root;
        while let Some(node) = self.nodes.get(at as usize) {
            if addr.common_len(node.key) < node.depth {
                at = NIL;
                break;
            }
            let slot = node.slots[addr.chunk(node.depth, STRIDE) % FANOUT];
            if slot.best != NIL {
                best = slot.best;
            }
            at = slot.child;
        }
        // The walk ended at nothing, or at a leaf: one prefix to compare with the address.
        if at != NIL && at & LEAF != 0 {
            if let Some(leaf) = self.entries.get((at & !LEAF) as usize) {
                if addr.common_len(leaf.key) >= leaf.len {
                    return Some(&leaf.value);
                }
            }
        }
        self.entry(best).map(|e| &e.value)
    }

    /// Store `value` for the prefix (`key`, `len`) (host bits are masked off) with the
    /// caller's `stamp`; returns the value it replaces.
    pub(super) fn insert(&mut self, key: K, len: u8, value: V, stamp: u64) -> Option<V> {
        let len = len.min(K::WIDTH);
        let key = key.masked(len);
        let entry = Entry { key, len, value };
        if let Some(&e) = self.index.get(&(key, len)) {
            let old = self.entry(e)?.value;
            self.entries[e as usize] = entry;
            self.stamps[e as usize] = stamp;
            return Some(old);
        }
        let e = self.alloc_entry(entry, stamp);
        self.index.insert((key, len), e);
        if len == 0 {
            self.default = e;
        } else {
            self.place(key, len, e);
        }
        None
    }

    /// Remove exactly the prefix (`key`, `len`) (host bits masked off); returns its value.
    pub(super) fn remove(&mut self, key: K, len: u8) -> Option<V> {
        let len = len.min(K::WIDTH);
        let key = key.masked(len);
        let e = self.index.remove(&(key, len))?;
        let value = self.entry(e)?.value;
        if let Some(entry) = self.entries.get_mut(e as usize) {
            entry.len = FREE;
        }
        self.free_entries.push(e);
        if len == 0 {
            self.default = NIL;
        } else {
            self.unplace(key, len, e);
        }
        self.maybe_compact();
        Some(value)
    }

    /// The value stored for exactly this prefix (host bits masked off).
    pub(super) fn get(&self, key: K, len: u8) -> Option<&V> {
        let len = len.min(K::WIDTH);
        let e = *self.index.get(&(key.masked(len), len))?;
        self.entry(e).map(|entry| &entry.value)
    }

    /// Drop every prefix whose value fails `keep`.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        let doomed: Vec<(K, u8)> = self
            .iter()
            .filter(|(_, _, v, _)| !keep(v))
            .map(|(k, l, _, _)| (k, l))
            .collect();
        for (key, len) in doomed {
            self.remove(key, len);
        }
    }

    /// The same trie with every value (free entries' stale ones too) replaced by `f` of it:
    /// a copy of the arrays, no walk and no insertion.
    pub(super) fn map_values<U: Copy>(&self, f: impl Fn(V) -> U) -> Trie<K, U> {
        Trie {
            nodes: self.nodes.clone(),
            free_nodes: self.free_nodes.clone(),
            entries: (self.entries.iter())
                .map(|e| Entry {
                    key: e.key,
                    len: e.len,
                    value: f(e.value),
                })
                .collect(),
            stamps: self.stamps.clone(),
            free_entries: self.free_entries.clone(),
            index: self.index.clone(),
            root: self.root,
            default: self.default,
        }
    }

    /// Every stored (prefix bits, length, value, stamp), in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (K, u8, &V, u64)> + '_ {
        #[cfg(test)]
        WALKS.with(|w| w.set(w.get() + 1));
        let all = self.entries.iter().zip(&self.stamps);
        let live = all.filter(|(e, _)| e.len != FREE);
        live.map(|(e, &stamp)| (e.key, e.len, &e.value, stamp))
    }

    /// Entry `e` if it is in use.
    fn entry(&self, e: u32) -> Option<&Entry<K, V>> {
        self.entries.get(e as usize).filter(|x| x.len != FREE)
    }

    /// Approximate heap bytes held: node and entry arrays, free lists, the hash index.
    #[cfg(test)]
    pub(super) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.nodes.capacity() * size_of::<Node<K>>()
            + self.entries.capacity() * size_of::<Entry<K, V>>()
            + self.stamps.capacity() * size_of::<u64>()
            + (self.free_nodes.capacity() + self.free_entries.capacity()) * size_of::<u32>()
            + self.index.capacity() * (size_of::<((K, u8), u32)>() + 1)
    }

    /// Put entry `e` = (`key`, `len` ≥ 1) in the node at its home depth on its path, or as
    /// a leaf where its path runs out; splitting paths and opening leaves into nodes on the way.
    fn place(&mut self, key: K, len: u8, e: u32) {
        let depth = home_depth(len);
        let mut link = Link::Root;
        loop {
            let target = self.follow(link);
            let Some((there, there_key)) = self.shape(target) else {
                self.attach(link, LEAF | e);
                return;
            };
            let common = key.common_len(there_key);
            if there > depth || common < there {
                // `key` leaves the path to `target` above it.
                self.split(link, target, there_key, common.min(depth));
            } else if target & LEAF != 0 {
                self.open_leaf(link, target & !LEAF);
            } else if there == depth {
                self.expand(target, e, key, len);
                return;
            } else {
                link = Link::Child(target, key.chunk(there, STRIDE) % FANOUT);
            }
        }
    }

    /// (depth, key) of node `target`, or of the node leaf `target` would be; `None` for `NIL`.
    fn shape(&self, target: u32) -> Option<(u8, K)> {
        if target & LEAF == 0 {
            let node = self.nodes.get(target as usize)?;
            return Some((node.depth, node.key));
        }
        let entry = self.entry(target & !LEAF)?;
        let depth = home_depth(entry.len);
        Some((depth, entry.key.masked(depth)))
    }

    /// Put a node between `link` and its `target` (shaped `target_key`), at the last stride
    /// boundary within `common` leading bits: where a new path will branch off.
    fn split(&mut self, link: Link, target: u32, target_key: K, common: u8) {
        let depth = (common / STRIDE) * STRIDE;
        let mid = self.alloc_node(target_key.masked(depth), depth);
        if let Some(node) = self.nodes.get_mut(mid as usize) {
            node.slots[target_key.chunk(depth, STRIDE) % FANOUT].child = target;
            node.children = 1;
        }
        self.set_link(link, mid);
    }

    /// Replace the leaf of entry `e` at `link` by a node holding it, to add below it.
    fn open_leaf(&mut self, link: Link, e: u32) {
        let Some(entry) = self.entry(e) else {
            return;
        };
        let (key, len) = (entry.key, entry.len);
        let depth = home_depth(len);
        let node = self.alloc_node(key.masked(depth), depth);
        self.expand(node, e, key, len);
        self.set_link(link, node);
    }

    /// Record entry `e` = (`key`, `len`) in node `at`: it becomes `best` of every slot it
    /// covers that no longer prefix of the node covers.
    fn expand(&mut self, at: u32, e: u32, key: K, len: u8) {
        let entries = &self.entries;
        let Some(node) = self.nodes.get_mut(at as usize) else {
            return;
        };
        node.prefixes = node.prefixes.saturating_add(1);
        let (start, span) = slot_range(node.depth, key, len);
        for slot in node.slots.iter_mut().skip(start).take(span) {
            let longer = entries
                .get(slot.best as usize)
                .is_some_and(|b| b.len != FREE && b.len > len);
            if !longer {
                slot.best = e;
            }
        }
    }

    /// Take removed entry `e` = (`key`, `len` ≥ 1) out of its node or leaf, then splice out
    /// or shrink to leaves the nodes on its path left with too little.
    fn unplace(&mut self, key: K, len: u8, e: u32) {
        let depth = home_depth(len);
        let mut path = Vec::new();
        let mut link = Link::Root;
        loop {
            let target = self.follow(link);
            if target == LEAF | e {
                self.detach(link);
                break;
            }
            let Some(node) = self.nodes.get(target as usize) else {
                return;
            };
            if node.depth >= depth {
                if node.depth == depth {
                    self.forget(target, key, len, e);
                    self.prune(link);
                }
                break;
            }
            path.push(link);
            link = Link::Child(target, key.chunk(node.depth, STRIDE) % FANOUT);
        }
        while let Some(up) = path.pop() {
            self.prune(up);
        }
    }

    /// Drop entry `e` = (`key`, `len`) from node `at`: the slots it was best for go to the
    /// next shorter prefix of the node covering them.
    fn forget(&mut self, at: u32, key: K, len: u8, e: u32) {
        let Some(node) = self.nodes.get(at as usize) else {
            return;
        };
        let depth = node.depth;
        let heir = (depth + 1..len)
            .rev()
            .find_map(|l| self.index.get(&(key.masked(l), l)).copied())
            .unwrap_or(NIL);
        let Some(node) = self.nodes.get_mut(at as usize) else {
            return;
        };
        node.prefixes = node.prefixes.saturating_sub(1);
        let (start, span) = slot_range(depth, key, len);
        for slot in node.slots.iter_mut().skip(start).take(span) {
            if slot.best == e {
                slot.best = heir;
            }
        }
    }

    /// Simplify the node at `link` if it holds too little: with nothing it goes, with only a
    /// child that child takes its place, with only one prefix it becomes that prefix's leaf.
    fn prune(&mut self, link: Link) {
        let at = self.follow(link);
        let Some(node) = self.nodes.get_mut(at as usize) else {
            return;
        };
        let first = |of: fn(&Slot) -> u32| node.slots.iter().map(of).find(|&x| x != NIL);
        let heir = match (node.prefixes, node.children) {
            (0, 0) => NIL,
            (0, 1) => first(|s| s.child).unwrap_or(NIL),
            (1, 0) => first(|s| s.best).map_or(NIL, |b| LEAF | b),
            _ => return,
        };
        node.slots = [EMPTY; FANOUT];
        (node.prefixes, node.children) = (0, 0);
        self.free_nodes.push(at);
        if heir == NIL {
            self.detach(link);
        } else {
            self.set_link(link, heir);
        }
    }

    /// The node `link` points at (`NIL` if none).
    fn follow(&self, link: Link) -> u32 {
        match link {
            Link::Root => self.root,
            Link::Child(p, i) => self
                .nodes
                .get(p as usize)
                .and_then(|n| n.slots.get(i))
                .map_or(NIL, |s| s.child),
        }
    }

    /// Point `link` at `target`, leaving child counts alone (a replacement).
    fn set_link(&mut self, link: Link, target: u32) {
        match link {
            Link::Root => self.root = target,
            Link::Child(p, i) => {
                let slot = self
                    .nodes
                    .get_mut(p as usize)
                    .and_then(|n| n.slots.get_mut(i));
                if let Some(slot) = slot {
                    slot.child = target;
                }
            }
        }
    }

    /// Hang `child` at the empty `link`.
    fn attach(&mut self, link: Link, child: u32) {
        self.set_link(link, child);
        if let Link::Child(p, _) = link {
            if let Some(n) = self.nodes.get_mut(p as usize) {
                n.children = n.children.saturating_add(1);
            }
        }
    }

    /// Empty `link`.
    fn detach(&mut self, link: Link) {
        self.set_link(link, NIL);
        if let Link::Child(p, _) = link {
            if let Some(n) = self.nodes.get_mut(p as usize) {
                n.children = n.children.saturating_sub(1);
            }
        }
    }

    fn alloc_node(&mut self, key: K, depth: u8) -> u32 {
        let node = Node {
            key,
            depth,
            prefixes: 0,
            children: 0,
            slots: [EMPTY; FANOUT],
        };
        while let Some(at) = self.free_nodes.pop() {
            if let Some(place) = self.nodes.get_mut(at as usize) {
                *place = node;
                return at;
            }
        }
        self.nodes.push(node);
        // Below LEAF in practice: 2^31 nodes would need hundreds of gigabytes.
        u32::try_from(self.nodes.len() - 1).unwrap_or(NIL)
    }

    fn alloc_entry(&mut self, entry: Entry<K, V>, stamp: u64) -> u32 {
        while let Some(e) = self.free_entries.pop() {
            if let (Some(place), Some(s)) = (
                self.entries.get_mut(e as usize),
                self.stamps.get_mut(e as usize),
            ) {
                (*place, *s) = (entry, stamp);
                return e;
            }
        }
        self.entries.push(entry);
        self.stamps.push(stamp);
        // Below LEAF in practice: 2^31 entries would need far more memory than exists.
        u32::try_from(self.entries.len() - 1).unwrap_or(NIL)
    }

    /// Rebuild densely once most node or entry slots are free, so removals give memory back.
    fn maybe_compact(&mut self) {
        let sparse = |free: usize, all: usize| free >= COMPACT_MIN_FREE && free * 2 >= all;
        if !sparse(self.free_nodes.len(), self.nodes.len())
            && !sparse(self.free_entries.len(), self.entries.len())
        {
            return;
        }
        let old = std::mem::take(self);
        for (key, len, &value, stamp) in old.iter() {
            self.insert(key, len, value, stamp);
        }
    }
}

/// The slots of a node at `depth` covered by prefix (`key`, `len`), `depth < len`:
/// (first, count).
fn slot_range<K: Bits>(depth: u8, key: K, len: u8) -> (usize, usize) {
    let free_bits = (depth + STRIDE).saturating_sub(len).min(STRIDE);
    (key.chunk(depth, STRIDE) % FANOUT, 1 << free_bits)
}

#[cfg(test)]
mod tests;
