//! `Wiped<T>`: a value on the heap whose bytes are overwritten with zeros when it is dropped.
//!
//! For key material held by types that cannot zeroize themselves: ring's `LessSafeKey` keeps
//! the ChaCha20 key in plain memory and has no `Zeroize`. The value lives in one heap slot for
//! its whole life (so moving a `Wiped` moves only the pointer), and on drop it is dropped in
//! place and its slot zeroed with volatile writes (`zeroize`'s `MaybeUninit` impl) before the
//! slot is freed. Copies made while the value was built, before it reached the heap, are not
//! reached: this is best effort, as all zeroizing in Rust is.
//!
//! It lives here because it needs `unsafe` (house rule: only in `platform`), although the
//! protocol core is what uses it; it does no I/O.
#![allow(unsafe_code)] // reading a MaybeUninit that `new` initialised and only `drop` ends

use std::mem::MaybeUninit;
use zeroize::Zeroize;

/// A heap value zeroed on drop.
pub struct Wiped<T> {
    /// Initialised from `new` until `drop`.
    slot: Box<MaybeUninit<T>>,
}

impl<T> Wiped<T> {
    /// Move `value` to the heap.
    pub fn new(value: T) -> Self {
        Self {
            slot: Box::new(MaybeUninit::new(value)),
        }
    }

    /// The value.
    pub fn get(&self) -> &T {
        // SAFETY: `slot` is initialised by `new` and stays so until `drop`, the only place that
        // ends it; a shared borrow of `self` cannot outlive that.
        unsafe { self.slot.assume_init_ref() }
    }
}

impl<T> Drop for Wiped<T> {
    fn drop(&mut self) {
        // SAFETY: `slot` is initialised (see `get`) and this is the one place it is dropped;
        // afterwards only its bytes are touched, as a `MaybeUninit`, which any bytes may fill.
        unsafe { self.slot.assume_init_drop() };
        self.slot.zeroize();
    }
}

impl<T> std::fmt::Debug for Wiped<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wiped(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn holds_the_value_and_hides_it_from_debug() {
        let w = Wiped::new([7u8; 32]);
        assert_eq!(w.get(), &[7u8; 32]);
        assert_eq!(format!("{w:?}"), "Wiped(..)");
    }

    #[test]
    fn drops_the_value_once() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        drop(Wiped::new(Counted));
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_slot_is_zeroed_the_way_drop_zeroes_it() {
        // What `drop` does after dropping the value, on a slot we can still look at.
        let mut slot = Box::new(MaybeUninit::new([0x5au8; 64]));
        slot.zeroize();
        // SAFETY: zeroize wrote 64 zero bytes over the slot: a valid [u8; 64].
        let bytes = unsafe { slot.assume_init() };
        assert_eq!(*bytes, [0u8; 64]);
    }
}
