//! Generational ids for reused slots. A slot number alone is not an identity: once a
//! connection closes its slot serves the next one, and a message still naming the old
//! connection (a queued close, a late readiness event, a timer) would act on the new one. An id
//! pairs the slot with the generation it was issued in, so a stale id finds nothing and is a
//! no-op.

/// A connection: its slot in the server's table and the generation of that slot.
///
/// Packs into one `u64` (slot in the low half, generation in the high half) so it can travel as
/// a mio token and hash as a plain integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(u64);

impl ConnId {
    /// The id of `slot` in its `generation`.
    pub fn new(slot: u32, generation: u32) -> ConnId {
        ConnId(u64::from(generation) << 32 | u64::from(slot))
    }

    /// The slot this id names.
    pub fn slot(self) -> usize {
        (self.0 & u64::from(u32::MAX)) as usize
    }

    /// The generation the slot was in when this id was issued.
    pub fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    #[cfg(any(test, fuzzing))]
    /// The id as one number (a mio token).
    pub fn to_raw(self) -> u64 {
        self.0
    }

    #[cfg(any(test, fuzzing))]
    /// The id [`ConnId::to_raw`] gave.
    pub fn from_raw(raw: u64) -> ConnId {
        ConnId(raw)
    }
}

impl std::fmt::Display for ConnId {
    /// `slot.generation`, as logs show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.slot(), self.generation())
    }
}

/// A table of reusable slots addressed by [`ConnId`]: a freed slot's generation moves on, so ids
/// issued before are stale and every lookup with them finds nothing.
#[derive(Debug)]
pub struct Slots<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slots<T> {
    /// Stores `value` in a free slot (or a new one) and returns its id.
    pub fn insert(&mut self, value: T) -> ConnId {
        self.len += 1;
        if let Some(slot) = self.free.pop() {
            let entry = &mut self.slots[slot as usize];
            entry.value = Some(value);
            return ConnId::new(slot, entry.generation);
        }
        let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 slots");
        self.slots.push(Slot {
            generation: 0,
            value: Some(value),
        });
        ConnId::new(slot, 0)
    }

    /// The value `id` names, if it is still the one stored there.
    pub fn get(&self, id: ConnId) -> Option<&T> {
        let entry = self.slots.get(id.slot())?;
        if entry.generation != id.generation() {
            return None;
        }
        entry.value.as_ref()
    }

    /// Like [`Slots::get`], mutable.
    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut T> {
        let entry = self.slots.get_mut(id.slot())?;
        if entry.generation != id.generation() {
            return None;
        }
        entry.value.as_mut()
    }

    /// Takes the value `id` names out; the slot's generation moves on, so `id` goes stale.
    pub fn remove(&mut self, id: ConnId) -> Option<T> {
        let entry = self.slots.get_mut(id.slot())?;
        if entry.generation != id.generation() {
            return None;
        }
        let value = entry.value.take()?;
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(id.slot() as u32);
        self.len -= 1;
        Some(value)
    }

    #[cfg(test)]
    /// How many values are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The ids of every stored value, in slot order.
    pub fn ids(&self) -> Vec<ConnId> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.value.is_some())
            .map(|(slot, entry)| ConnId::new(slot as u32, entry.generation))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_slot_gets_a_new_generation_and_the_old_id_finds_nothing() {
        let mut slots = Slots::default();
        let old = slots.insert("old");
        assert_eq!(slots.remove(old), Some("old"));
        let new = slots.insert("new");
        assert_eq!(new.slot(), old.slot());
        assert_ne!(new, old);
        assert_eq!(slots.get(old), None);
        assert_eq!(slots.remove(old), None);
        assert_eq!(slots.get(new), Some(&"new"));
        assert_eq!(slots.len(), 1);
    }

    #[test]
    fn ids_round_trip_through_one_number() {
        let id = ConnId::new(7, 3);
        assert_eq!(ConnId::from_raw(id.to_raw()), id);
        assert_eq!((id.slot(), id.generation()), (7, 3));
    }

    #[test]
    fn ids_lists_only_live_values() {
        let mut slots = Slots::default();
        let a = slots.insert(1);
        let b = slots.insert(2);
        slots.remove(a);
        assert_eq!(slots.ids(), vec![b]);
    }
}
