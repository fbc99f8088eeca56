//! One hashed timer wheel for every deadline of the server: heartbeats, session expiry,
//! keep-alive, slow clients (DESIGN 4, STYLE habit 7).
//!
//! # Contract
//! Sans-IO: the wheel never reads the clock. `now` and every deadline are arguments, measured from
//! the `origin` given to [`TimerWheel::new`]. The event loop runs, once per iteration:
//!
//! 1. `while let Some((key, value)) = wheel.poll_expired(now) { .. }` (until `None`);
//! 2. sleep until [`TimerWheel::next_deadline`] (or an I/O event), then read the clock again.
//!
//! Firing is exact: `poll_expired(now)` yields an entry iff its deadline `<= now`, to the
//! nanosecond; it never fires early and, once called with a `now` past a deadline, never late.
//! `next_deadline` is exactly the earliest live deadline whenever no entry is overdue, so the loop
//! neither busy-waits nor oversleeps. Keys carry a generation: cancelling a key whose entry already
//! fired or was cancelled is a no-op returning `None`, even after its slot was reused.
//!
//! # Mechanism
//! Entries live in a slab (a `Vec` of slots and a free list). A deadline is hashed by its tick
//! (1 ms, [`TICK`]) into one of 512 buckets ([`BUCKETS`]); each bucket is an intrusive doubly
//! linked list threaded through the slab by index, so insert and cancel are O(1). An entry due
//! many revolutions ahead simply waits in its bucket: the entry keeps its absolute deadline.
//!
//! Unlike a classic wheel, there is no cursor sweeping tick after tick. Each bucket instead keeps
//! its exact minimum deadline (and how many entries share it), and the wheel remembers which
//! bucket holds the global minimum. Hence:
//! - `next_deadline` is O(1), however many timers are far away (10,000 sessions an hour out);
//! - an idle server wakes only for real deadlines, never for empty ticks, and a long sleep costs
//!   nothing to catch up;
//! - expiring walks one bucket once, moving every due entry in it to a ready list that
//!   `poll_expired` pops one entry per call, then rescans the 512 bucket minima: O(entries / 512 +
//!   512) per batch, not per tick;
//! - cancelling a bucket's last entry at its minimum deadline rewalks that bucket, and, if it held
//!   the global minimum, rescans the 512 minima.
//!
//! The tradeoff: a few hundred comparisons per expiry batch and per cancel of the earliest timer,
//! against a classic wheel's per-tick sweep and O(entries) search for the next deadline.
//! Allocation happens only when the slab grows; firing and cancelling never allocate.
//!
//! # Limits
//! Deadlines before `origin` count as `origin`; deadlines more than about 584 years after it are
//! clamped to that horizon (nanoseconds in a `u64`). A `now` earlier than one seen before is
//! treated as the latest one seen (time is monotonic). A key's generation is 32 bits: a stale key
//! could match again only after its slot was reused 2^32 times.

use std::time::{Duration, Instant};

#[cfg(test)]
/// Width of one tick: the unit deadlines are hashed by. It only spreads entries over buckets;
/// firing is exact to the nanosecond whatever its value.
pub const TICK: Duration = Duration::from_millis(1);

/// Buckets of the wheel: one revolution spans 512 ticks (512 ms); 10,000 timers leave about 20
/// per bucket to walk on expiry.
pub const BUCKETS: usize = 512;

/// `TICK` in nanoseconds.
const TICK_NS: u64 = 1_000_000;

/// Latest representable deadline, in nanoseconds after origin (`u64::MAX` marks "no entry").
const HORIZON_NS: u64 = u64::MAX - 1;

/// End of an intrusive list.
const NIL: usize = usize::MAX;

/// Handle to one timer: slab index plus the slot's generation when the timer was inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: usize,
    generation: u32,
}

/// A live timer: its deadline, its links in a bucket or the ready list, its value.
#[derive(Debug)]
struct Entry<T> {
    deadline: u64,
    prev: usize,
    next: usize,
    ready: bool,
    value: T,
}

/// One slab slot; `generation` changes each time the slot is vacated.
#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    entry: Option<Entry<T>>,
    next_free: usize,
}

/// Ends of an intrusive doubly linked list through the slab.
#[derive(Debug, Clone, Copy)]
struct List {
    head: usize,
    tail: usize,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };
}

/// One bucket: its list, and the exact minimum deadline in it with how many entries share it.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    list: List,
    min: u64,
    min_count: usize,
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        list: List::EMPTY,
        min: u64::MAX,
        min_count: 0,
    };
}

/// Every deadline of the server in one place, with O(1) insert, cancel and next deadline.
#[derive(Debug)]
pub struct TimerWheel<T> {
    origin: Instant,
    slots: Vec<Slot<T>>,
    free: usize,
    len: usize,
    buckets: Vec<Bucket>,
    /// Bucket holding the earliest deadline of all buckets; `None` when all are empty.
    min_bucket: Option<usize>,
    /// Due entries moved out of their buckets, popped first by `poll_expired`.
    ready: List,
    /// Lower bound of the deadlines in `ready` (exact when they were moved there).
    ready_min: u64,
    /// Latest `now` seen, in nanoseconds after origin.
    now: u64,
}

impl<T> TimerWheel<T> {
    /// An empty wheel; `origin` is the instant deadlines and `now` are measured from.
    pub fn new(origin: Instant) -> Self {
        TimerWheel {
            origin,
            slots: Vec::new(),
            free: NIL,
            len: 0,
            buckets: vec![Bucket::EMPTY; BUCKETS],
            min_bucket: None,
            ready: List::EMPTY,
            ready_min: u64::MAX,
            now: 0,
        }
    }

    /// Arms a timer firing once `now >= deadline`; the key cancels it or asks its deadline.
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerKey {
        let deadline = self.nanos(deadline);
        let entry = Entry {
            deadline,
            prev: NIL,
            next: NIL,
            ready: false,
            value,
        };
        let index = if self.free == NIL {
            self.slots.push(Slot {
                generation: 0,
                entry: Some(entry),
                next_free: NIL,
            });
            self.slots.len() - 1
        } else {
            let index = self.free;
            let slot = &mut self.slots[index];
            self.free = slot.next_free;
            slot.next_free = NIL;
            slot.entry = Some(entry);
            index
        };
        self.len += 1;
        let b = bucket_of(deadline);
        self.link(b, index);
        let bucket = &mut self.buckets[b];
        if deadline < bucket.min {
            bucket.min = deadline;
            bucket.min_count = 1;
        } else if deadline == bucket.min {
            bucket.min_count += 1;
        }
        match self.min_bucket {
            Some(g) if self.buckets[g].min <= deadline => {}
            _ => self.min_bucket = Some(b),
        }
        TimerKey {
            index,
            generation: self.slots[index].generation,
        }
    }

    /// Disarms a timer and gives its value back; `None` if it already fired or was cancelled.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let entry = self.entry(key)?;
        let (deadline, ready) = (entry.deadline, entry.ready);
        if ready {
            self.unlink_ready(key.index);
        } else {
            let b = bucket_of(deadline);
            self.unlink(b, key.index);
            let bucket = &mut self.buckets[b];
            if deadline == bucket.min {
                bucket.min_count -= 1;
                if bucket.min_count == 0 {
                    self.recompute_bucket(b);
                    if self.min_bucket == Some(b) {
                        self.recompute_min_bucket();
                    }
                }
            }
        }
        Some(self.release(key.index))
    }

    #[cfg(any(test, fuzzing))]
    /// When a live timer is due (`origin` if it was set before origin); `None` if stale.
    pub fn deadline(&self, key: TimerKey) -> Option<Instant> {
        self.entry(key).map(|e| self.instant(e.deadline))
    }

    /// When to call `poll_expired` next: `None` iff the wheel is empty.
    ///
    /// Exactly: when no entry is overdue (every deadline is after the latest `now` passed to
    /// `poll_expired`), this is the earliest deadline itself, not rounded. When some entry is
    /// overdue (the caller has not drained `poll_expired`), it is an instant no later than the
    /// earliest deadline, at which `poll_expired` yields an entry. So it is never later than the
    /// earliest deadline, and sleeping until it never ends in a wakeup that fires nothing.
    pub fn next_deadline(&self) -> Option<Instant> {
        let buckets = self.min_bucket.map_or(u64::MAX, |b| self.buckets[b].min);
        let ready = if self.ready.head == NIL {
            u64::MAX
        } else {
            self.ready_min
        };
        let earliest = buckets.min(ready);
        (earliest != u64::MAX).then(|| self.instant(earliest))
    }

    /// One entry whose deadline is `<= now`, or `None` when none is left; call until `None`.
    /// Entries fire in about deadline order, not strictly.
    pub fn poll_expired(&mut self, now: Instant) -> Option<(TimerKey, T)> {
        self.now = self.now.max(self.nanos(now));
        if self.ready.head == NIL {
            let b = self.min_bucket?;
            if self.buckets[b].min > self.now {
                return None;
            }
            self.collect(b);
        }
        let index = self.ready.head;
        if index == NIL {
            // Not reached: `collect` moved at least the bucket's minimum, which is due.
            return None;
        }
        self.unlink_ready(index);
        let key = TimerKey {
            index,
            generation: self.slots[index].generation,
        };
        Some((key, self.release(index)))
    }

    #[cfg(any(test, fuzzing))]
    /// Live timers, including those due but not yet polled.
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(any(test, fuzzing))]
    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves every due entry of bucket `b` to the ready list and recomputes the minima.
    fn collect(&mut self, b: usize) {
        let now = self.now;
        let mut min = u64::MAX;
        let mut min_count = 0;
        let mut index = self.buckets[b].list.head;
        while let Some(entry) = self.slots.get(index).and_then(|s| s.entry.as_ref()) {
            let (deadline, next) = (entry.deadline, entry.next);
            if deadline <= now {
                self.unlink(b, index);
                self.link_ready(index);
                self.ready_min = self.ready_min.min(deadline);
            } else if deadline < min {
                min = deadline;
                min_count = 1;
            } else if deadline == min {
                min_count += 1;
            }
            index = next;
        }
        let bucket = &mut self.buckets[b];
        bucket.min = min;
        bucket.min_count = min_count;
        self.recompute_min_bucket();
    }

    /// Rewalks bucket `b` for its minimum deadline and how many entries share it.
    fn recompute_bucket(&mut self, b: usize) {
        let mut min = u64::MAX;
        let mut min_count = 0;
        let mut index = self.buckets[b].list.head;
        while let Some(entry) = self.slots.get(index).and_then(|s| s.entry.as_ref()) {
            if entry.deadline < min {
                min = entry.deadline;
                min_count = 1;
            } else if entry.deadline == min {
                min_count += 1;
            }
            index = entry.next;
        }
        let bucket = &mut self.buckets[b];
        bucket.min = min;
        bucket.min_count = min_count;
    }

    /// Rescans the bucket minima for the bucket holding the earliest deadline.
    fn recompute_min_bucket(&mut self) {
        self.min_bucket = None;
        let mut min = u64::MAX;
        for (b, bucket) in self.buckets.iter().enumerate() {
            if bucket.min < min {
                min = bucket.min;
                self.min_bucket = Some(b);
            }
        }
    }

    /// The live entry a key names, if the key is not stale.
    fn entry(&self, key: TimerKey) -> Option<&Entry<T>> {
        let slot = self.slots.get(key.index)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.entry.as_ref()
    }

    /// Vacates an unlinked slot, bumping its generation so old keys go stale.
    fn release(&mut self, index: usize) -> T {
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.next_free = self.free;
        self.free = index;
        self.len -= 1;
        match slot.entry.take() {
            Some(entry) => entry.value,
            // Callers pass only indices they found occupied (`entry`, the ready list).
            None => unreachable!("released a vacant timer slot"),
        }
    }

    /// Appends slab entry `index` to bucket `b`.
    fn link(&mut self, b: usize, index: usize) {
        let mut list = self.buckets[b].list;
        self.push_back(&mut list, index);
        self.buckets[b].list = list;
    }

    /// Removes slab entry `index` from bucket `b`.
    fn unlink(&mut self, b: usize, index: usize) {
        let mut list = self.buckets[b].list;
        self.remove(&mut list, index);
        self.buckets[b].list = list;
    }

    /// Appends slab entry `index` to the ready list.
    fn link_ready(&mut self, index: usize) {
        let mut list = self.ready;
        self.push_back(&mut list, index);
        self.ready = list;
        if let Some(e) = self.slots[index].entry.as_mut() {
            e.ready = true;
        }
    }

    /// Removes slab entry `index` from the ready list.
    fn unlink_ready(&mut self, index: usize) {
        let mut list = self.ready;
        self.remove(&mut list, index);
        self.ready = list;
        if list.head == NIL {
            self.ready_min = u64::MAX;
        }
        if let Some(e) = self.slots[index].entry.as_mut() {
            e.ready = false;
        }
    }

    /// Links an occupied, unlinked slot at the tail of `list`.
    fn push_back(&mut self, list: &mut List, index: usize) {
        let tail = list.tail;
        if let Some(e) = self.slots[index].entry.as_mut() {
            e.prev = tail;
            e.next = NIL;
        }
        match self.slots.get_mut(tail).and_then(|s| s.entry.as_mut()) {
            Some(t) => t.next = index,
            None => list.head = index,
        }
        list.tail = index;
    }

    /// Unlinks an occupied slot from `list`, which holds it.
    fn remove(&mut self, list: &mut List, index: usize) {
        let Some(e) = self.slots[index].entry.as_mut() else {
            return;
        };
        let (prev, next) = (e.prev, e.next);
        e.prev = NIL;
        e.next = NIL;
        match self.slots.get_mut(prev).and_then(|s| s.entry.as_mut()) {
            Some(p) => p.next = next,
            None => list.head = next,
        }
        match self.slots.get_mut(next).and_then(|s| s.entry.as_mut()) {
            Some(n) => n.prev = prev,
            None => list.tail = prev,
        }
    }

    /// Nanoseconds from origin, clamped to `0..=HORIZON_NS`.
    fn nanos(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.origin);
        u64::try_from(d.as_nanos()).map_or(HORIZON_NS, |n| n.min(HORIZON_NS))
    }

    /// The instant `nanos` after origin.
    fn instant(&self, nanos: u64) -> Instant {
        // Representable: every stored value came from an Instant at least that far from origin.
        self.origin
            .checked_add(Duration::from_nanos(nanos))
            .unwrap_or(self.origin)
    }
}

/// The bucket a deadline hashes to: its tick modulo the number of buckets.
fn bucket_of(deadline: u64) -> usize {
    // The remainder is below BUCKETS, so it fits in usize.
    ((deadline / TICK_NS) % BUCKETS as u64) as usize
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    /// Xorshift64 (Marsaglia 2003): a reproducible PRNG for model tests, no dependency.
    pub(crate) struct XorShift(pub(crate) u64);

    impl XorShift {
        /// Next 64 pseudo-random bits.
        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        /// A value in `0..n` (0 when `n` is 0).
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    const MS: Duration = Duration::from_millis(1);

    fn drain(wheel: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        let mut fired = Vec::new();
        while let Some((_, v)) = wheel.poll_expired(now) {
            fired.push(v);
        }
        fired.sort_unstable();
        fired
    }

    #[test]
    fn fires_exactly_at_deadline_not_before() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let d = t0 + Duration::from_micros(1500);
        w.insert(d, 1);
        assert_eq!(w.next_deadline(), Some(d));
        assert_eq!(w.poll_expired(d - Duration::from_nanos(1)), None);
        assert_eq!(w.poll_expired(d).map(|(_, v)| v), Some(1));
        assert_eq!(w.poll_expired(d), None);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn cancel_returns_value_once() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let k = w.insert(t0 + 10 * MS, "a");
        assert_eq!(w.len(), 1);
        assert_eq!(w.deadline(k), Some(t0 + 10 * MS));
        assert_eq!(w.cancel(k), Some("a"));
        assert_eq!(w.cancel(k), None);
        assert_eq!(w.deadline(k), None);
        assert_eq!(w.len(), 0);
        assert_eq!(w.poll_expired(t0 + 20 * MS), None);
    }

    #[test]
    fn stale_key_does_not_cancel_the_reused_slot() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let old = w.insert(t0 + MS, 1);
        let (fired, v) = w.poll_expired(t0 + MS).unwrap();
        assert_eq!((fired, v), (old, 1));
        let new = w.insert(t0 + 5 * MS, 2);
        assert_eq!(new.index, old.index, "slot is reused");
        assert_eq!(w.cancel(old), None);
        assert_eq!(w.deadline(old), None);
        assert_eq!(w.len(), 1);
        assert_eq!(w.cancel(new), Some(2));
    }

    #[test]
    fn far_deadline_waits_whole_revolutions() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let rev = TICK * BUCKETS as u32;
        let hour = t0 + rev * 7000 + 5 * MS;
        w.insert(hour, 1);
        let near = t0 + rev + 5 * MS;
        assert_eq!(bucket_of(w.nanos(near)), bucket_of(w.nanos(hour)));
        w.insert(near, 2);
        assert_eq!(w.next_deadline(), Some(near));
        assert_eq!(drain(&mut w, near), vec![2]);
        assert_eq!(w.next_deadline(), Some(hour));
        assert_eq!(
            drain(&mut w, hour - Duration::from_nanos(1)),
            Vec::<u32>::new()
        );
        assert_eq!(drain(&mut w, hour + Duration::from_secs(7200)), vec![1]);
    }

    #[test]
    fn deadline_in_the_past_fires_at_once() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        assert_eq!(
            drain(&mut w, t0 + Duration::from_secs(10)),
            Vec::<u32>::new()
        );
        let k = w.insert(t0 + Duration::from_secs(1), 1);
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(1)));
        if let Some(before) = t0.checked_sub(Duration::from_secs(1)) {
            let k2 = w.insert(before, 2);
            assert_eq!(w.deadline(k2), Some(t0), "before origin counts as origin");
            assert_eq!(w.next_deadline(), Some(t0));
        }
        assert_eq!(w.deadline(k), Some(t0 + Duration::from_secs(1)));
        let fired = drain(&mut w, t0 + Duration::from_secs(10));
        assert_eq!(fired[0], 1);
        assert!(w.is_empty());
    }

    #[test]
    fn many_entries_in_one_bucket() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let rev = TICK * BUCKETS as u32;
        let mut keys = Vec::new();
        for i in 0..2000u32 {
            // All hash to bucket 3: same tick, or whole revolutions apart.
            let d = t0 + 3 * MS + rev * ((i / 2) % 10) + Duration::from_nanos(u64::from(i));
            keys.push(w.insert(d, i));
        }
        assert_eq!(w.buckets[3].list.head, keys[0].index);
        for k in keys.iter().step_by(2) {
            assert!(w.cancel(*k).is_some());
        }
        assert_eq!(w.len(), 1000);
        assert_eq!(
            w.next_deadline(),
            Some(t0 + 3 * MS + Duration::from_nanos(1))
        );
        let fired = drain(&mut w, t0 + 3 * MS + rev * 4 + MS);
        assert_eq!(fired.len(), 500);
        assert!(fired.iter().all(|v| v % 2 == 1 && (v / 2) % 10 < 5));
        assert_eq!(w.len(), 500);
        assert_eq!(drain(&mut w, t0 + rev * 20).len(), 500);
    }

    #[test]
    fn next_deadline_stays_at_or_before_overdue_entries() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.insert(t0 + 2 * MS, 1);
        w.insert(t0 + 2 * MS, 2);
        w.insert(t0 + 700 * MS, 3);
        assert!(w.poll_expired(t0 + 5 * MS).is_some());
        let next = w.next_deadline().unwrap();
        assert!(next <= t0 + 2 * MS);
        assert!(
            w.poll_expired(next).is_some(),
            "no wakeup that fires nothing"
        );
        assert_eq!(w.next_deadline(), Some(t0 + 700 * MS));
    }

    /// Random inserts, cancels (live and stale), time steps and partial drains against a
    /// `BTreeMap` model.
    #[test]
    fn matches_btreemap_model() {
        for seed in 1..=8u64 {
            run_model(seed, 3000);
        }
    }

    fn run_model(seed: u64, steps: usize) {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let mut model: BTreeMap<(Duration, u32), TimerKey> = BTreeMap::new();
        let mut live: HashMap<u32, (Duration, TimerKey)> = HashMap::new();
        let mut dead: Vec<TimerKey> = Vec::new();
        let mut now = Duration::ZERO;
        let mut seq = 0u32;
        for _ in 0..steps {
            match rng.below(10) {
                0..=3 => {
                    let at = match rng.below(6) {
                        0 => now + Duration::from_nanos(rng.below(3_000_000)),
                        1 => now + MS * rng.below(2048) as u32,
                        2 => now + Duration::from_secs(rng.below(4000)),
                        3 => now + Duration::from_nanos(rng.below(1 << 40)),
                        4 => now.saturating_sub(Duration::from_nanos(rng.below(1 << 32))),
                        // Whole milliseconds: many entries share one deadline.
                        _ => Duration::from_millis(now.as_millis() as u64 + rng.below(8)),
                    };
                    seq += 1;
                    let key = w.insert(t0 + at, seq);
                    model.insert((at, seq), key);
                    live.insert(seq, (at, key));
                }
                4 | 5 => {
                    let window = if rng.below(2) == 0 { 4 } else { 64 };
                    if let Some((&(at, v), &key)) = model.iter().nth(rng.below(window) as usize) {
                        assert_eq!(w.cancel(key), Some(v));
                        model.remove(&(at, v));
                        live.remove(&v);
                        dead.push(key);
                    }
                }
                6 => {
                    if !dead.is_empty() {
                        let key = dead[rng.below(dead.len() as u64) as usize];
                        assert_eq!(w.cancel(key), None);
                    }
                }
                _ => {
                    now += match rng.below(4) {
                        0 => Duration::ZERO,
                        1 => Duration::from_nanos(rng.below(2_000_000)),
                        2 => MS * rng.below(5 * BUCKETS as u64) as u32,
                        _ => Duration::from_secs(rng.below(600)),
                    };
                    let limit = if rng.below(4) == 0 {
                        rng.below(3)
                    } else {
                        u64::MAX
                    };
                    let mut polled = 0;
                    while polled < limit {
                        let Some((key, v)) = w.poll_expired(t0 + now) else {
                            break;
                        };
                        polled += 1;
                        let (at, k) = live.remove(&v).expect("fired a live entry");
                        assert_eq!(k, key);
                        assert!(at <= now, "fired early");
                        model.remove(&(at, v));
                        dead.push(key);
                    }
                    if polled < limit {
                        assert!(model.keys().next().is_none_or(|&(at, _)| at > now));
                    }
                }
            }
            assert_eq!(w.len(), model.len());
            match model.keys().next() {
                None => assert_eq!(w.next_deadline(), None),
                Some(&(at, _)) if at > now => assert_eq!(w.next_deadline(), Some(t0 + at)),
                Some(&(at, _)) => assert!(w.next_deadline().unwrap() <= t0 + at),
            }
            if let Some((&v, &(at, key))) = live.iter().next() {
                assert_eq!(w.deadline(key), Some(t0 + at), "value {v}");
            }
        }
    }
}
