//! The set value type. (Filled in by the data-types work: compact and large encodings.)

#[derive(Debug, Clone, Default)]
pub struct Set {
    items: Vec<Box<[u8]>>,
}

impl Set {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Serialized form (see `types::codec`); must round-trip through `decode`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        super::codec::put_len(out, self.items.len());
        for i in &self.items {
            super::codec::put_bytes(out, i);
        }
    }

    pub fn decode(mut data: &[u8]) -> Option<Self> {
        let n = super::codec::get_len(&mut data)?;
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(super::codec::get_bytes(&mut data)?.into());
        }
        data.is_empty().then_some(Set { items })
    }

    pub fn mem_usage(&self) -> usize {
        self.items.iter().map(|i| i.len() + 16).sum()
    }
}
