//! The timer wheel under arbitrary operation sequences, against a `BTreeMap` model: the same
//! live timers, exact firing (never early, never late once polled), exact next deadline.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcpd::fuzzing::{TimerKey, TimerWheel};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A deadline in nanoseconds after origin from four bytes and a scale: nanoseconds to days.
fn nanos(bytes: &[u8], scale: u8) -> u64 {
    let mut raw = [0u8; 4];
    raw[..bytes.len().min(4)].copy_from_slice(&bytes[..bytes.len().min(4)]);
    u64::from(u32::from_le_bytes(raw)) << [0, 8, 16, 24][usize::from(scale & 3)]
}

fuzz_target!(|data: &[u8]| {
    let origin = Instant::now();
    let at = |ns: u64| origin + Duration::from_nanos(ns);
    let mut wheel = TimerWheel::new(origin);
    // Model: value -> deadline in ns after origin; every key ever issued, with its value.
    let mut live: BTreeMap<u32, u64> = BTreeMap::new();
    let mut keys: Vec<(TimerKey, u32)> = Vec::new();
    let mut now = 0u64;
    let mut next_value = 0u32;
    let mut ops = data.chunks(5);
    while let Some(op) = ops.next() {
        let pick = |n: usize| usize::from(op.get(1).copied().unwrap_or(0)) % n.max(1);
        match op[0] % 6 {
            // Insert; deadlines before origin count as origin.
            0 | 1 => {
                let ns = nanos(&op[1..], op[0] >> 4);
                let (deadline, model_ns) = if op[0] & 8 != 0 {
                    match origin.checked_sub(Duration::from_nanos(ns)) {
                        Some(before) => (before, 0),
                        None => continue,
                    }
                } else {
                    (at(ns), ns)
                };
                let key = wheel.insert(deadline, next_value);
                live.insert(next_value, model_ns);
                keys.push((key, next_value));
                next_value += 1;
            }
            // Cancel any key ever issued: live ones give their value back, stale ones nothing.
            2 if !keys.is_empty() => {
                let (key, value) = keys[pick(keys.len())];
                let deadline = wheel.deadline(key);
                let expect = live.remove(&value);
                assert_eq!(deadline, expect.map(at));
                assert_eq!(wheel.cancel(key), expect.map(|_| value));
                assert_eq!(wheel.cancel(key), None);
            }
            // Time passes; drain everything due, or take just one.
            3 | 4 => {
                now = now.max(nanos(&op[1..], op[0] >> 4));
                let drain = op[0] % 6 == 3;
                while let Some((key, value)) = wheel.poll_expired(at(now)) {
                    let deadline = live.remove(&value).expect("fired a live timer");
                    assert!(deadline <= now, "fired early");
                    assert!(keys.contains(&(key, value)));
                    if !drain {
                        break;
                    }
                }
                if drain {
                    assert!(live.values().all(|&d| d > now), "late");
                }
            }
            // Time goes backwards: treated as the latest time seen.
            _ => {
                let before = nanos(&op[1..], 0).min(now);
                if let Some((_, value)) = wheel.poll_expired(at(before)) {
                    assert!(live.remove(&value).is_some_and(|d| d <= now));
                }
            }
        }
        assert_eq!(wheel.len(), live.len());
        let earliest = live.values().min().copied();
        let next = wheel.next_deadline();
        assert_eq!(next.is_some(), earliest.is_some());
        match earliest {
            Some(e) if e > now => assert_eq!(next, Some(at(e)), "exact when none is overdue"),
            Some(e) => assert!(next.is_some_and(|n| n <= at(e))),
            None => {}
        }
    }
});
