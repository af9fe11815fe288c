//! `wgrs strip` and config errors through the real binary: output identical to Debian's
//! `wg-quick strip`; a bad config names file:line and key, exits 1 and changes nothing.

use std::process::Command;

const WGRS: &str = env!("CARGO_BIN_EXE_wgrs");

fn tmp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wgrs-quick-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write config");
    p
}

#[test]
fn strip_matches_wg_quick_on_the_example_config() {
    let conf = concat!(env!("CARGO_MANIFEST_DIR"), "/conf/wg0.conf");
    let ours = Command::new(WGRS)
        .args(["strip", conf])
        .output()
        .expect("run wgrs");
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let Ok(theirs) = Command::new("wg-quick").args(["strip", conf]).output() else {
        assert!(
            std::env::var_os("WGRS_SKIP_INTEROP").is_some(),
            "install wireguard-tools"
        );
        return;
    };
    assert!(theirs.status.success());
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
}

#[test]
fn bad_configs_name_file_line_and_key_and_exit_1() {
    let key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    for (text, line, key_name) in [
        (format!("[Interface]\nPrivateKey = {key}\nListenPort = 70000\n"), 3, "ListenPort"),
        (format!("[Interface]\nPrivateKey = {key}\n\n[Peer]\nPublicKey = {key}\nAllowedIPs = 10.0.0.0/33\n"), 6, "AllowedIPs"),
        (format!("[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {key}\nPersistentKeepalive = 65536\n"), 5, "PersistentKeepalive"),
        ("[Interface]\nPrivateKey = notakey\n".to_owned(), 2, "PrivateKey"),
    ] {
        let p = tmp("wgq0.conf", &text);
        let out = Command::new(WGRS).args(["up", p.to_str().expect("utf-8 path")]).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("wgq0.conf:{line}")) && err.contains(key_name), "{err}");
        assert!(!err.contains("yAnz5TF"), "no key material in errors: {err}");
        assert!(!err.contains("[#]"), "nothing was done: {err}");
    }
    let out = Command::new(WGRS)
        .args(["up", "not a name!"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
}

/// An Endpoint that does not resolve: one error, with the program's prefix and file:line;
/// nothing is done (no `[#]`).
#[test]
fn an_unresolvable_endpoint_is_one_error_naming_file_and_line() {
    let key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    let text = format!(
        "[Interface]\nPrivateKey = {key}\n\n[Peer]\nPublicKey = {key}\nAllowedIPs = 10.0.0.0/24\n\
         Endpoint = nowhere.invalid:51820\n"
    );
    let p = tmp("wgq1.conf", &text);
    // Private, so that wg-quick's world-accessible warning does not join the output.
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let out = Command::new(WGRS)
        .args(["up", p.to_str().expect("utf-8 path")])
        .env("WG_ENDPOINT_RESOLUTION_RETRIES", "0")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let path = p.canonicalize().expect("path");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one error:\n{err}");
    let (prefix, rest) = lines[0].split_once(": ").expect("prefix");
    assert!(prefix.ends_with("wgrs"), "{err}");
    assert!(
        rest.starts_with(&format!("{}:7: Endpoint: ", path.display()))
            && rest.ends_with(": `nowhere.invalid:51820'"),
        "{err}"
    );
}
