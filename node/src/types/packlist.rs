//! A packed list of byte strings in one allocation: the "listpack" encoding of small hashes
//! and sets. Each element is a LEB128 length followed by its bytes. Lookups walk the buffer,
//! which for the few dozen short elements it ever holds costs less than hashing and takes a
//! fraction of the memory of one allocation per element.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackList {
    buf: Vec<u8>,
    len: usize,
}

/// Where one element lies in the buffer: `start..end` covers its header and bytes.
#[derive(Debug, Clone, Copy)]
pub struct Span<'a> {
    pub start: usize,
    pub end: usize,
    pub data: &'a [u8],
}

/// Appends a LEB128 length header.
pub(crate) fn put_len(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Decodes a length header into (length, header size). Headers are only ever read back from
/// buffers this crate wrote, so they always terminate.
pub(crate) fn get_len(b: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    for (i, &byte) in b.iter().enumerate() {
        n |= ((byte & 0x7f) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    unreachable!("packed list length header always terminates")
}

fn encoded(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 2);
    put_len(&mut v, data.len());
    v.extend_from_slice(data);
    v
}

impl PackList {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held.
    pub fn mem_usage(&self) -> usize {
        self.buf.capacity()
    }

    pub fn push(&mut self, data: &[u8]) {
        put_len(&mut self.buf, data.len());
        self.buf.extend_from_slice(data);
        self.len += 1;
    }

    pub fn spans(&self) -> Spans<'_> {
        Spans {
            buf: &self.buf,
            pos: 0,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.spans().map(|s| s.data)
    }

    /// The element at index `i` (a linear walk).
    pub fn get(&self, i: usize) -> Option<Span<'_>> {
        self.spans().nth(i)
    }

    /// The first element equal to `data`.
    pub fn find(&self, data: &[u8]) -> Option<Span<'_>> {
        self.spans().find(|s| s.data == data)
    }

    /// Removes the `count` consecutive elements lying in `start..end`.
    pub fn remove_range(&mut self, start: usize, end: usize, count: usize) {
        self.buf.drain(start..end);
        self.len -= count;
        // Keep the allocation in proportion after a large shrink.
        if self.buf.capacity() > 64 && self.buf.len() * 2 < self.buf.capacity() {
            self.buf.shrink_to(self.buf.len() * 5 / 4);
        }
    }

    /// Replaces the single element lying in `start..end` with `data`.
    pub fn replace(&mut self, start: usize, end: usize, data: &[u8]) {
        self.buf.splice(start..end, encoded(data));
    }
}

/// Iterator over the elements with their positions.
pub struct Spans<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Spans<'a> {
    type Item = Span<'a>;

    fn next(&mut self) -> Option<Span<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (n, h) = get_len(&self.buf[start..]);
        let end = start + h + n;
        self.pos = end;
        Some(Span {
            start,
            end,
            data: &self.buf[start + h..end],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_find_replace_remove() {
        let mut p = PackList::default();
        p.push(b"a");
        p.push(&[b'x'; 200]);
        p.push(b"");
        p.push(b"last");
        assert_eq!(p.len(), 4);
        let all: Vec<&[u8]> = p.iter().collect();
        assert_eq!(all, vec![&b"a"[..], &[b'x'; 200][..], b"", b"last"]);
        let s = p.find(&[b'x'; 200]).unwrap();
        p.replace(s.start, s.end, b"short");
        assert_eq!(p.get(1).unwrap().data, b"short");
        assert_eq!(p.get(3).unwrap().data, b"last");
        let s = p.find(b"").unwrap();
        p.remove_range(s.start, s.end, 1);
        assert_eq!(p.len(), 3);
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![&b"a"[..], b"short", b"last"]
        );
        assert!(p.find(b"missing").is_none());
    }
}
