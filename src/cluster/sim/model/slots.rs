//! Generation-checked handles: the model's instances and agents live in slots that are freed
//! once nothing can reach them any more and reused by the next one, so that a suite's memory
//! does not grow with its runs. A handle is a slot and the slot's generation when it was
//! taken; an event still queued for a freed instance or agent holds an old generation and is
//! void (see `Sim::is_live`).

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// A handle to a `T` in [`Slots`]: valid while the slot holds the same generation.
pub(crate) struct Key<T> {
    slot: u32,
    generation: u32,
    _of: PhantomData<fn() -> T>,
}

// Written out: derives would ask `T` for the same traits.
impl<T> Clone for Key<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Key<T> {}
impl<T> PartialEq for Key<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.slot, self.generation) == (other.slot, other.generation)
    }
}
impl<T> Eq for Key<T> {}
impl<T> fmt::Debug for Key<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}v{}", self.slot, self.generation)
    }
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// Values by [`Key`]; a removed value's slot is reused (latest freed first) with the next
/// generation, so stale keys never reach the new value.
pub(crate) struct Slots<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slots<T> {
    pub(crate) fn insert(&mut self, value: T) -> Key<T> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 slots")
            }
        };
        let s = &mut self.slots[slot as usize];
        s.value = Some(value);
        Key {
            slot,
            generation: s.generation,
            _of: PhantomData,
        }
    }

    /// The value, unless it was removed.
    pub(crate) fn get(&self, key: Key<T>) -> Option<&T> {
        let s = self.slots.get(key.slot as usize)?;
        s.value.as_ref().filter(|_| s.generation == key.generation)
    }

    pub(crate) fn contains(&self, key: Key<T>) -> bool {
        self.get(key).is_some()
    }

    /// Frees the slot; every key to it is stale from now on.
    pub(crate) fn remove(&mut self, key: Key<T>) -> Option<T> {
        let s = self.slots.get_mut(key.slot as usize)?;
        if s.generation != key.generation {
            return None;
        }
        let value = s.value.take()?;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(key.slot);
        Some(value)
    }

    /// Every value held, with its key, in slot order (not insertion order).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Key<T>, &T)> {
        self.slots.iter().enumerate().filter_map(|(slot, s)| {
            let key = Key {
                slot: slot as u32,
                generation: s.generation,
                _of: PhantomData,
            };
            s.value.as_ref().map(|v| (key, v))
        })
    }

    /// How many slots there are, held or free.
    #[cfg(test)]
    pub(crate) fn slots_len(&self) -> usize {
        self.slots.len()
    }

    /// How many values are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.value.is_some()).count()
    }
}

impl<T> Index<Key<T>> for Slots<T> {
    type Output = T;

    /// Panics on a stale key: the model only indexes with keys it knows to be live.
    fn index(&self, key: Key<T>) -> &T {
        self.get(key).expect("a live key")
    }
}

impl<T> IndexMut<Key<T>> for Slots<T> {
    fn index_mut(&mut self, key: Key<T>) -> &mut T {
        let s = &mut self.slots[key.slot as usize];
        assert_eq!(s.generation, key.generation, "a live key");
        s.value.as_mut().expect("a live key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_and_its_old_keys_are_stale() {
        let mut s = Slots::default();
        let a = s.insert("a");
        let b = s.insert("b");
        assert_eq!(s.remove(a), Some("a"));
        assert_eq!(s.remove(a), None, "removed once");
        let c = s.insert("c");
        assert_ne!(a, c, "same slot, new generation");
        assert_eq!(s.get(a), None);
        assert!(!s.contains(a));
        assert_eq!((s[b], s[c]), ("b", "c"));
        assert_eq!(s.len(), 2);
        assert_eq!(s.slots.len(), 2, "the freed slot was reused");
        let order: Vec<_> = s.iter().map(|(_, v)| *v).collect();
        assert_eq!(order, ["c", "b"], "slot order");
        s[c] = "d";
        assert_eq!(s.get(c), Some(&"d"));
    }
}
