//! A received bundle (`refuge bundle inspect`): any bytes, never a panic. The reader is the
//! crypto crate's: the caps before any cryptography, age, then the magic, manifest and
//! signature lines and the signature check against the sender's key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use refuge_crypto::{DeviceKeys, SecretKey, check_envelope, open_bundle};

fn device(text: &str) -> DeviceKeys {
    DeviceKeys::from_secret(&SecretKey::from_text(text).unwrap()).unwrap()
}

fuzz_target!(|data: &[u8]| {
    // The devices of the golden vector (crates/crypto/testdata/bundle-v1.age): secrets of all
    // ones (sender) and all twos (recipient).
    let sender = device("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE");
    let recipient = device("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI");
    let envelope = check_envelope(data);
    if let Ok(opened) = open_bundle(data, &recipient) {
        assert!(envelope.is_ok(), "opened what the envelope check refused");
        let _ = opened.verify(&sender.public());
    }
});
