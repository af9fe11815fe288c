//! Trie tests: structural invariants after every kind of update, churn against a naive
//! model (exercising node reuse and compaction), and memory per prefix at 10,000 prefixes.

use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Panic unless the trie's structure is exactly what its invariants say.
fn check<K: Bits, V: Copy>(t: &Trie<K, V>) {
    let (mut nodes, mut leaves) = (0, 0);
    let mut stack = vec![(t.root, None::<(K, u8, usize)>)];
    while let Some((at, parent)) = stack.pop() {
        if at == NIL {
            continue;
        }
        let (depth, key) = t.shape(at).expect("dangling link");
        assert_eq!(depth % STRIDE, 0);
        assert!(depth < K::WIDTH);
        assert_eq!(key, key.masked(depth));
        if let Some((pkey, pdepth, slot)) = parent {
            assert!(depth >= pdepth + STRIDE, "child deeper than its slot");
            assert!(
                key.common_len(pkey) >= pdepth,
                "child off its parent's path"
            );
            assert_eq!(key.chunk(pdepth, STRIDE), slot, "child off its slot's path");
        }
        if at & LEAF != 0 {
            leaves += 1;
            continue;
        }
        nodes += 1;
        let node = &t.nodes[at as usize];
        check_slots(t, at, node);
        let (prefixes, children) = (node.prefixes, node.children);
        assert!(
            prefixes + children >= 2,
            "prunable node {at}: {prefixes} + {children}"
        );
        let slots = node.slots.iter().enumerate();
        stack.extend(slots.map(|(i, s)| (s.child, Some((node.key, node.depth, i)))));
    }
    assert_eq!(nodes + t.free_nodes.len(), t.nodes.len());
    assert!(nodes < t.len().max(1));
    let in_nodes: usize = t.nodes.iter().map(|n| usize::from(n.prefixes)).sum();
    let default = usize::from(t.default != NIL);
    assert_eq!(
        in_nodes + leaves + default,
        t.len(),
        "every prefix placed once"
    );
    assert_eq!(t.entries.iter().filter(|e| e.len != FREE).count(), t.len());
    assert_eq!(t.stamps.len(), t.entries.len());
    assert_eq!(t.entries.len(), t.len() + t.free_entries.len());
}

/// Counts and `best` of every slot of `node` (at index `at`) against the hash index.
fn check_slots<K: Bits, V: Copy>(t: &Trie<K, V>, at: u32, node: &Node<K>) {
    let mine: Vec<(K, u8, u32)> = t
        .index
        .iter()
        .filter(|((_, l), _)| *l > 0 && home_depth(*l) == node.depth)
        .filter(|((k, _), _)| k.common_len(node.key) >= node.depth)
        .map(|(&(k, l), &e)| (k, l, e))
        .collect();
    assert_eq!(
        usize::from(node.prefixes),
        mine.len(),
        "prefix count of node {at}"
    );
    let children = node.slots.iter().filter(|s| s.child != NIL).count();
    assert_eq!(
        usize::from(node.children),
        children,
        "child count of node {at}"
    );
    for (i, slot) in node.slots.iter().enumerate() {
        let want = mine
            .iter()
            .filter(|(k, l, _)| {
                let (start, span) = slot_range(node.depth, *k, *l);
                (start..start + span).contains(&i)
            })
            .max_by_key(|(_, l, _)| *l)
            .map_or(NIL, |(_, _, e)| *e);
        assert_eq!(slot.best, want, "best of slot {i} of node {at}");
    }
}

/// The naive model: longest matching prefix by brute force.
fn model_lookup(model: &HashMap<(u32, u8), u16>, addr: u32) -> Option<u16> {
    (0..=32u8)
        .rev()
        .find_map(|l| model.get(&(addr.masked(l), l)).copied())
}

#[test]
fn invariants_hold_through_splits_and_splices() {
    let mut t: Trie<u32, u16> = Trie::default();
    let nets = [
        (0x0a01_0203, 32),
        (0x0a01_0200, 24),
        (0x0a00_0000, 8),
        (0x0a01_0000, 16),
        (0x0a01_0204, 31),
        (0x0a01_0000, 15),
        (0xc0a8_0000, 16),
        (0, 0),
        (0x8000_0000, 1),
        (0x0a01_0203, 29),
    ];
    for (i, &(k, l)) in nets.iter().enumerate() {
        assert_eq!(t.insert(k, l, i as u16, 0), None);
        check(&t);
    }
    assert_eq!(
        t.insert(0x0a01_02ff, 24, 99, 0),
        Some(1),
        "host bits masked, value replaced"
    );
    assert_eq!(t.lookup(0x0a01_0203), Some(&0));
    assert_eq!(t.lookup(0x0a01_0299), Some(&99));
    assert_eq!(t.lookup(0x0a01_0205), Some(&4));
    assert_eq!(t.lookup(0x0b00_0000), Some(&7));
    assert_eq!(t.lookup(0xc0a8_0101), Some(&6));
    for &(k, l) in nets.iter().rev() {
        assert!(t.remove(k, l).is_some());
        assert_eq!(t.remove(k, l), None);
        check(&t);
    }
    assert_eq!(t.len(), 0);
    assert_eq!(t.root, NIL);
    assert_eq!(t.lookup(0x0a01_0203), None);
}

#[test]
fn churn_matches_model_and_compacts() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut t: Trie<u32, u16> = Trie::default();
    let mut model = HashMap::new();
    for round in 0..6 {
        for _ in 0..1500 {
            // Crowd into 16 /8s so prefixes nest and split often.
            let key = (rng.gen::<u32>() >> 4) | (rng.gen_range(0..16u32) << 28);
            let len = rng.gen_range(0..=32u8);
            let value = rng.gen::<u16>();
            t.insert(key, len, value, 0);
            model.insert((key.masked(len), len), value);
        }
        check(&t);
        let mut live: Vec<(u32, u8)> = model.keys().copied().collect();
        live.sort_unstable();
        for &(k, l) in live.iter().filter(|_| rng.gen_bool(0.9)) {
            assert_eq!(t.remove(k, l), model.remove(&(k, l)), "round {round}");
        }
        check(&t);
        assert!(
            t.nodes.len() <= 2 * t.len().max(COMPACT_MIN_FREE),
            "compacted"
        );
        for _ in 0..2000 {
            let a = rng.gen::<u32>();
            assert_eq!(t.lookup(a).copied(), model_lookup(&model, a));
        }
    }
}

#[test]
fn retain_and_wide_keys() {
    let mut t: Trie<u128, u8> = Trie::default();
    for i in 0..=128u8 {
        t.insert(u128::MAX, i, i % 3, 0);
    }
    check(&t);
    assert_eq!(t.lookup(u128::MAX), Some(&(128 % 3)));
    t.retain(|&v| v != 2);
    check(&t);
    assert_eq!(t.len(), 129 - 43);
    assert_eq!(t.lookup(u128::MAX), Some(&(127 % 3)));
    assert_eq!(t.lookup(0), Some(&0), "the zero-length prefix");
    t.retain(|_| false);
    check(&t);
    assert_eq!((t.len(), t.root), (0, NIL));
}

/// The bench's table shape: 10,000 random prefixes per family (v4 /8–/32, v6 /16–/128).
#[test]
fn memory_per_prefix_at_10k() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut v4: Trie<u32, u32> = Trie::default();
    let mut v6: Trie<u128, u32> = Trie::default();
    while v4.len() < 10_000 {
        v4.insert(rng.gen(), rng.gen_range(8..=32), 0, 0);
    }
    while v6.len() < 10_000 {
        v6.insert(rng.gen(), rng.gen_range(16..=128), 0, 0);
    }
    check(&v4);
    check(&v6);
    let per4 = v4.heap_bytes() / v4.len();
    let per6 = v6.heap_bytes() / v6.len();
    let (n4, n6) = (v4.nodes.len(), v6.nodes.len());
    println!("bytes per prefix: v4 {per4} ({n4} nodes), v6 {per6} ({n6} nodes)");
    use std::mem::size_of;
    println!(
        "node {}/{} B, entry {}/{} B",
        size_of::<Node<u32>>(),
        size_of::<Node<u128>>(),
        size_of::<Entry<u32, u32>>(),
        size_of::<Entry<u128, u32>>()
    );
    assert!(per4 < 400 && per6 < 500, "v4 {per4} v6 {per6}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Random inserts and removes in a crowded corner of the space: after each batch the
    /// structure is sound and every lookup agrees with brute force.
    #[test]
    fn random_updates_keep_invariants(
        ops in proptest::collection::vec((any::<bool>(), 0u32..64, 0u8..=32, any::<u16>()), 0..200),
        probes in proptest::collection::vec(0u32..64, 0..40),
    ) {
        let mut t: Trie<u32, u16> = Trie::default();
        let mut model = HashMap::new();
        // 6 random bits placed under a fixed /24, spread over bit positions 24..32 and 4..8.
        let spread = |x: u32| 0x0a0b_0c00 | (x & 0x3) | ((x & 0xc) << 4) | ((x & 0x30) << 20);
        for (insert, x, len, value) in ops {
            let key = spread(x);
            if insert {
                prop_assert_eq!(t.insert(key, len, value, 0), model.insert((key.masked(len), len), value));
            } else {
                prop_assert_eq!(t.remove(key, len), model.remove(&(key.masked(len), len)));
            }
        }
        check(&t);
        for a in probes.into_iter().map(spread) {
            prop_assert_eq!(t.lookup(a).copied(), model_lookup(&model, a));
        }
    }
}
