//! Fuzzes the `ypldap.conf` parser: no input may panic, and every
//! configuration that parses must print to text that parses to the same
//! configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ypldapd::config::{LoadOptions, MemSource, parse_bytes};

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2==\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA+v\n-----END PRIVATE KEY-----\n";

fuzz_target!(|data: &[u8]| {
    // An optional second file after a 0xff byte becomes "inc.conf".
    let (main, inc) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let fs = MemSource::new()
        .with("/etc/ssl/cert.pem", CERT)
        .with("ca.pem", CERT)
        .with("c.crt", CERT)
        .with("k.key", KEY)
        .with("inc.conf", inc.to_vec());
    let opts = LoadOptions {
        macros: vec![("m".into(), "\"v\"".into())],
        verbose: true,
    };
    if let Ok(loaded) = parse_bytes("fuzz.conf", main.to_vec(), &opts, &fs) {
        let text = loaded.config.to_config_text(false);
        match parse_bytes("printed.conf", text.clone().into_bytes(), &opts, &fs) {
            Ok(again) => assert_eq!(again.config, loaded.config, "printed:\n{text}"),
            Err(e) => panic!("printed config does not parse: {e}\n{text}"),
        }
        let _ = loaded.config.to_string();
    }
});
