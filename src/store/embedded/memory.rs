//! Process memory for what may be lost on restart: single-use values and counters. Each entry expires; expired entries are swept a few at a time as new ones arrive
//! (a heap of expiry times), never by walking the whole map under the lock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

#[derive(Default)]
pub struct Memory {
    values: Expiring<String>,
    numbers: Expiring<i64>,
}

struct Expiring<V> {
    entries: HashMap<String, (V, i64)>,
    expiries: BinaryHeap<Reverse<(i64, String)>>,
}

impl<V> Default for Expiring<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            expiries: BinaryHeap::new(),
        }
    }
}

impl<V> Expiring<V> {
    fn get(&self, key: &str, now: i64) -> Option<&V> {
        self.entries
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v)
    }

    fn insert(&mut self, key: String, value: V, until: i64, now: i64) {
        self.sweep(now);
        self.expiries.push(Reverse((until, key.clone())));
        self.entries.insert(key, (value, until));
    }

    fn remove(&mut self, key: &str, now: i64) -> Option<V> {
        self.entries
            .remove(key)
            .filter(|(_, until)| *until > now)
            .map(|(v, _)| v)
    }

    /// Removes entries whose time has come, oldest first; an entry set again since keeps its
    /// newer expiry.
    fn sweep(&mut self, now: i64) {
        while let Some(Reverse((until, _))) = self.expiries.peek() {
            if *until > now {
                break;
            }
            let Some(Reverse((until, key))) = self.expiries.pop() else {
                break;
            };
            if self.entries.get(&key).is_some_and(|(_, u)| *u == until) {
                self.entries.remove(&key);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Memory {
    pub fn put_once(&mut self, key: String, value: &str, ttl: i64, now: i64) {
        self.values.insert(key, value.to_owned(), now + ttl, now);
    }

    pub fn take_once(&mut self, key: &str, now: i64) -> Option<String> {
        self.values.remove(key, now)
    }

    pub fn incr(&mut self, key: &str, ttl: i64, now: i64) -> i64 {
        let v = self.numbers.get(key, now).copied().unwrap_or(0) + 1;
        self.numbers.insert(key.to_owned(), v, now + ttl, now);
        v
    }

    pub fn number(&self, key: &str, now: i64) -> Option<i64> {
        self.numbers.get(key, now).copied()
    }

    pub fn set_number(&mut self, key: &str, value: i64, ttl: i64, now: i64) {
        self.numbers.insert(key.to_owned(), value, now + ttl, now);
    }

    pub fn remove_number(&mut self, key: &str) {
        self.numbers.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_are_swept_as_new_ones_arrive() {
        let mut m = Expiring::<u32>::default();
        for i in 0..1000 {
            m.insert(format!("k{i}"), i, 10, 0);
        }
        m.insert("again".into(), 1, 5, 0);
        m.insert("again".into(), 2, 50, 1);
        assert_eq!(m.len(), 1001);
        m.insert("late".into(), 3, 100, 20);
        assert_eq!(
            m.len(),
            2,
            "the expired thousand are gone; `again` keeps its new expiry"
        );
        assert_eq!(m.get("again", 20), Some(&2));
        assert_eq!(m.get("again", 50), None);
    }
}
