//! Sizes and durations as flags and variables write them (`64K`, `1.5s`, `250ms`): parsing
//! them exactly (no floats) and showing defaults the same way. Bytes only; no I/O.

use std::time::Duration;

/// The longest timeout or interval accepted: longer is surely a typo, and it keeps deadlines
/// far from `Instant` overflow.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// An unsigned integer written in ASCII digits only (no sign, no spaces), if it fits `T`.
pub(crate) fn digits<T: std::str::FromStr>(v: &str) -> Option<T> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Binary size suffixes, largest first; `K` and `KiB` alike are 1024 (there is no 1000).
const SIZE_UNITS: [(&str, &str, u32); 3] = [("G", "GiB", 30), ("M", "MiB", 20), ("K", "KiB", 10)];

/// Bytes, or digits with a suffix from [`SIZE_UNITS`] in any case; `None` if it overflows usize.
pub(crate) fn parse_size(v: &str) -> Option<usize> {
    let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, suffix) = v.split_at(end);
    let shift = match SIZE_UNITS.iter().find(|(short, long, _)| {
        suffix.eq_ignore_ascii_case(short) || suffix.eq_ignore_ascii_case(long)
    }) {
        Some(&(_, _, shift)) => shift,
        None if suffix.is_empty() => 0,
        None => return None,
    };
    digits::<usize>(number)?.checked_mul(1 << shift)
}

/// A size in the largest unit that divides it exactly, as `--help` shows defaults.
pub(crate) fn show_size(n: usize) -> String {
    SIZE_UNITS
        .iter()
        .find(|&&(_, _, shift)| n != 0 && n.is_multiple_of(1 << shift))
        .map_or(n.to_string(), |&(_, long, shift)| {
            format!("{}{long}", n >> shift)
        })
}

/// `D`, `D.D`, optionally suffixed `ms`, `s`, `m` or `h`; above 0 and at most [`MAX_DURATION`].
/// Exact to the nanosecond (no float), so `0.1` is 100 ms exactly.
pub(crate) fn parse_duration(v: &str) -> Option<Duration> {
    let end = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (number, suffix) = v.split_at(end);
    let unit: u128 = match suffix {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let fraction = &fraction[..fraction.len().min(18)];
    let nanos = digits::<u128>(whole)?
        .checked_mul(unit)?
        .checked_add(digits::<u128>(fraction)? * unit / 10u128.pow(fraction.len() as u32))?;
    let nanos = u64::try_from(nanos).ok()?;
    Some(Duration::from_nanos(nanos)).filter(|d| !d.is_zero() && *d <= MAX_DURATION)
}
