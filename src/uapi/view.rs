//! The `get=1` view of a pure [`Device`]: what wireguard-go's `IpcGetOperation` reports.

use wgrs_uapi::{DeviceView, PeerView};

use crate::proto::device::Device;

/// The view of `dev`, with the port and fwmark the driver holds.
pub fn device_view(dev: &Device, listen_port: u16, fwmark: u32) -> DeviceView<'_> {
    let mut allowed_ips = dev.allowed_ips_by_peer();
    let peers = dev
        .peers()
        .map(|p| PeerView {
            public_key: *p.public_key(),
            preshared_key: p.remote.psk(),
            endpoint: p.endpoint(),
            last_handshake: p.last_handshake_wall,
            tx_bytes: p.tx_bytes(),
            rx_bytes: p.rx_bytes(),
            persistent_keepalive_interval: p.timers.persistent_keepalive_interval,
            allowed_ips: allowed_ips.remove(&p.id).unwrap_or_default(),
        })
        .collect();
    DeviceView {
        private_key: dev.private_key(),
        listen_port,
        fwmark,
        peers,
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
