//! Bounded name tables: each distinct name (user, role set, target, feature, error class,
//! login method) gets a small id; past the table's cap every new name shares the id of
//! [`OTHER`], so memory stays bounded whatever the log holds.
//!
//! Never forgets or renumbers a name (ids are keys of the aggregates).

use crate::engine::fxhash::FastMap;

/// The name every name past the cap is counted under.
pub const OTHER: &str = "(other)";
/// The id of [`OTHER`] in every table.
pub const OTHER_ID: u32 = 0;

/// Names by id, ids by name, at most `cap` names besides [`OTHER`].
#[derive(Debug, Clone)]
pub struct Names {
    names: Vec<Box<str>>,
    ids: FastMap<Box<str>, u32>,
    cap: usize,
}

impl Names {
    pub fn new(cap: usize) -> Names {
        Names {
            names: vec![OTHER.into()],
            ids: FastMap::default(),
            cap,
        }
    }

    /// The id of `name`, adding it while there is room.
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        if self.names.len() > self.cap {
            return OTHER_ID;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(OTHER_ID);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of a name already known (`OTHER_ID` for [`OTHER`]).
    pub fn find(&self, name: &str) -> Option<u32> {
        if name == OTHER {
            return Some(OTHER_ID);
        }
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or(OTHER, |n| n.as_ref())
    }

    /// Every name with its id, [`OTHER`] first.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (u32::try_from(i).unwrap_or(OTHER_ID), n.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_cap_share_other() {
        let mut n = Names::new(2);
        let a = n.id("a");
        assert_eq!(n.id("a"), a);
        let b = n.id("b");
        assert_ne!(a, b);
        assert_eq!(n.id("c"), OTHER_ID);
        assert_eq!(n.name(OTHER_ID), OTHER);
        assert_eq!(n.find("c"), None);
        assert_eq!(n.find(OTHER), Some(OTHER_ID));
        assert_eq!(n.name(b), "b");
    }
}
