//! Fuzz target `allowedips`: the AllowedIPs trie against a naive list, over sequences of
//! insert / remove / remove_peer / lookup / prefixes_of chosen by the fuzzer.

use arbitrary::{Result, Unstructured};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::proto::allowedips::AllowedIps;

/// The obviously correct table: (prefix with host bits masked, peer), oldest insert first.
#[derive(Default)]
struct Model {
    entries: Vec<(IpNet, u8)>,
}

impl Model {
    fn insert(&mut self, net: IpNet, peer: u8) {
        self.remove(net);
        self.entries.push((net.trunc(), peer));
    }

    fn remove(&mut self, net: IpNet) -> Option<u8> {
        let net = net.trunc();
        let at = self.entries.iter().position(|(n, _)| *n == net)?;
        Some(self.entries.remove(at).1)
    }

    fn lookup(&self, addr: IpAddr) -> Option<u8> {
        self.entries
            .iter()
            .filter(|(n, _)| n.contains(&addr))
            .max_by_key(|(n, _)| n.prefix_len())
            .map(|&(_, p)| p)
    }

    fn prefixes_of(&self, peer: u8) -> Vec<IpNet> {
        self.entries
            .iter()
            .filter(|(_, p)| *p == peer)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// An address: half the time from a small neighbourhood, so that prefixes overlap.
fn addr(u: &mut Unstructured<'_>, v6: bool) -> Result<IpAddr> {
    let near = u.arbitrary::<bool>()?;
    Ok(match (v6, near) {
        (false, true) => IpAddr::V4(Ipv4Addr::new(10, u.int_in_range(0..=3)?, u.arbitrary()?, 0)),
        (false, false) => IpAddr::V4(Ipv4Addr::from(u.arbitrary::<u32>()?)),
        (true, true) => {
            let low = u128::from(u.arbitrary::<u16>()?) << 96;
            IpAddr::V6(Ipv6Addr::from((0xfd00u128 << 112) | low))
        }
        (true, false) => IpAddr::V6(Ipv6Addr::from(u.arbitrary::<u128>()?)),
    })
}

fn net(u: &mut Unstructured<'_>) -> Result<IpNet> {
    let v6 = u.arbitrary::<bool>()?;
    let a = addr(u, v6)?;
    let n = match a {
        IpAddr::V4(a) => IpNet::V4(Ipv4Net::new(a, u.int_in_range(0..=32)?).expect("prefix <= 32")),
        IpAddr::V6(a) => {
            IpNet::V6(Ipv6Net::new(a, u.int_in_range(0..=128)?).expect("prefix <= 128"))
        }
    };
    Ok(n)
}

/// Runs one operation sequence; panics when the trie and the model disagree.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut table = AllowedIps::<u8>::new();
    let mut model = Model::default();
    for _ in 0..512 {
        if step(&mut u, &mut table, &mut model).is_err() {
            break;
        }
        assert_eq!(table.len(), model.entries.len(), "len");
    }
    for peer in 0..4 {
        assert_eq!(
            table.prefixes_of(peer),
            model.prefixes_of(peer),
            "peer {peer}"
        );
    }
}

fn step(u: &mut Unstructured<'_>, table: &mut AllowedIps<u8>, model: &mut Model) -> Result<()> {
    let peer = u.int_in_range(0..=3)?;
    match u.int_in_range(0..=5)? {
        0 | 1 => {
            let n = net(u)?;
            table.insert(n, peer);
            model.insert(n, peer);
        }
        2 => {
            let n = net(u)?;
            assert_eq!(table.remove(n), model.remove(n), "remove {n}");
        }
        3 => {
            table.remove_peer(peer);
            model.entries.retain(|&(_, p)| p != peer);
        }
        4 => {
            let v6 = u.arbitrary::<bool>()?;
            let a = addr(u, v6)?;
            assert_eq!(table.lookup(a), model.lookup(a), "lookup {a}");
        }
        _ => assert_eq!(
            table.prefixes_of(peer),
            model.prefixes_of(peer),
            "peer {peer}"
        ),
    }
    Ok(())
}
