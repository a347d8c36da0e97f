//! PDF to the Markdown-like text the chunker reads. A small hand-written reader: objects are
//! found by scanning the file (so a damaged cross-reference table does not matter) and in
//! object streams; pages come in page-tree order; their content streams are inflated and their
//! text-showing operators (`Tj`, `TJ`, `'`, `"`) read with the text position (`Td`, `TD`,
//! `T*`, `Tm`, `cm`), so lines, paragraphs, columns (as `| a | b |` rows) and headings (lines
//! set larger than the body text, as `#` lines) survive. Strings are decoded through the
//! font's ToUnicode CMap when it has one, else its WinAnsi/standard encoding and
//! `/Differences`. Images (so scans), annotations and form fields are not read; an encrypted
//! PDF is refused. Any input yields text or a readable reason, never a panic.

use super::inflate::{Inflate, Wrapping, MAX_INFLATED_BYTES};

/// Inflated bytes one document may produce in all (streams are read one at a time).
const INFLATE_BUDGET: usize = 256 * 1024 * 1024;
/// Deepest nesting of arrays and dictionaries read.
const MAX_DEPTH: usize = 32;
/// Most bytes of text extracted (more than any upload may keep: 1.5 million characters).
const MAX_TEXT_BYTES: usize = 8_000_000;

/// A PDF value.
#[derive(Debug, Clone, PartialEq)]
enum Obj {
    Null,
    Bool(bool),
    Num(f64),
    Str(Vec<u8>),
    Name(String),
    Array(Vec<Obj>),
    Dict(Vec<(String, Obj)>),
    Ref(u32),
    /// A keyword: a content stream operator, or `obj`, `stream`… in the file.
    Op(String),
}

impl Obj {
    fn get(&self, key: &str) -> Option<&Obj> {
        match self {
            Obj::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn num(&self) -> Option<f64> {
        match self {
            Obj::Num(n) => Some(*n),
            _ => None,
        }
    }
    fn name(&self) -> Option<&str> {
        match self {
            Obj::Name(n) => Some(n),
            _ => None,
        }
    }
}

fn is_white(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

/// Reads PDF tokens and values from bytes (the file, an object stream, a content stream, a
/// CMap: they share one syntax).
struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    fn new(b: &'a [u8], i: usize) -> Self {
        Lexer { b, i }
    }

    fn skip_white(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if is_white(c) {
                self.i += 1;
            } else if c == b'%' {
                while self
                    .b
                    .get(self.i)
                    .is_some_and(|c| *c != b'\n' && *c != b'\r')
                {
                    self.i += 1;
                }
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn regular(&mut self) -> &'a [u8] {
        let start = self.i;
        while self
            .b
            .get(self.i)
            .is_some_and(|c| !is_white(*c) && !is_delim(*c))
        {
            self.i += 1;
        }
        &self.b[start..self.i]
    }

    fn literal(&mut self) -> Vec<u8> {
        // After the opening `(`.
        let mut out = Vec::new();
        let mut depth = 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'(' => {
                    depth += 1;
                    out.push(c);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(c);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.i += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        // A line continuation.
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.i += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
        out
    }

    fn hex(&mut self) -> Vec<u8> {
        // After the opening `<`.
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(c) = self.peek() {
            self.i += 1;
            let v = match c {
                b'>' => break,
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => continue,
            };
            match high.take() {
                Some(h) => out.push(h << 4 | v),
                None => high = Some(v),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        out
    }

    /// The next value (`None` at the end); `]` and `>>` come back as `Op`.
    fn value(&mut self, depth: usize) -> Option<Obj> {
        self.skip_white();
        let c = self.peek()?;
        match c {
            b'/' => {
                self.i += 1;
                let raw = self.regular();
                let mut name = Vec::with_capacity(raw.len());
                let mut k = 0;
                while k < raw.len() {
                    let hex = |a: u8| (a as char).to_digit(16);
                    if raw[k] == b'#' && k + 2 < raw.len() {
                        if let (Some(h), Some(l)) = (hex(raw[k + 1]), hex(raw[k + 2])) {
                            name.push((h * 16 + l) as u8);
                            k += 3;
                            continue;
                        }
                    }
                    name.push(raw[k]);
                    k += 1;
                }
                Some(Obj::Name(String::from_utf8_lossy(&name).into_owned()))
            }
            b'(' => {
                self.i += 1;
                Some(Obj::Str(self.literal()))
            }
            b'<' if self.b.get(self.i + 1) == Some(&b'<') => {
                self.i += 2;
                let mut entries = Vec::new();
                loop {
                    if depth > MAX_DEPTH {
                        return Some(Obj::Null);
                    }
                    match self.value(depth + 1) {
                        None => break,
                        Some(Obj::Op(op)) if op == ">>" => break,
                        Some(Obj::Name(key)) => {
                            let v = self.value(depth + 1).unwrap_or(Obj::Null);
                            if matches!(&v, Obj::Op(op) if op == ">>") {
                                entries.push((key, Obj::Null));
                                break;
                            }
                            entries.push((key, v));
                        }
                        Some(_) => {}
                    }
                }
                Some(Obj::Dict(entries))
            }
            b'<' => {
                self.i += 1;
                Some(Obj::Str(self.hex()))
            }
            b'>' => {
                self.i += if self.b.get(self.i + 1) == Some(&b'>') {
                    2
                } else {
                    1
                };
                Some(Obj::Op(">>".into()))
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if depth > MAX_DEPTH {
                        return Some(Obj::Null);
                    }
                    match self.value(depth + 1) {
                        None => break,
                        Some(Obj::Op(op)) if op == "]" => break,
                        Some(v) => items.push(v),
                    }
                }
                Some(Obj::Array(items))
            }
            b']' | b'{' | b'}' | b')' => {
                self.i += 1;
                Some(Obj::Op((c as char).to_string()))
            }
            _ => {
                let word = self.regular();
                if word.is_empty() {
                    self.i += 1;
                    return Some(Obj::Op(String::new()));
                }
                if let Some(n) = number(word) {
                    // `12 0 R` is a reference.
                    if n >= 0.0 && n.fract() == 0.0 && !word.contains(&b'.') {
                        let save = self.i;
                        self.skip_white();
                        let generation = self.regular();
                        if !generation.is_empty() && generation.iter().all(u8::is_ascii_digit) {
                            self.skip_white();
                            if self.peek() == Some(b'R')
                                && self
                                    .b
                                    .get(self.i + 1)
                                    .is_none_or(|c| is_white(*c) || is_delim(*c))
                            {
                                self.i += 1;
                                return Some(Obj::Ref(n as u32));
                            }
                        }
                        self.i = save;
                    }
                    return Some(Obj::Num(n));
                }
                Some(match word {
                    b"true" => Obj::Bool(true),
                    b"false" => Obj::Bool(false),
                    b"null" => Obj::Null,
                    _ => Obj::Op(String::from_utf8_lossy(word).into_owned()),
                })
            }
        }
    }
}

fn number(word: &[u8]) -> Option<f64> {
    let first = *word.first()?;
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return None;
    }
    if !word[1..].iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    // A small reader rather than `str::parse::<f64>` (whose exact algorithm is large in wasm):
    // PDF numbers are plain decimals and need no exact rounding here.
    let (negative, digits) = match first {
        b'-' => (true, &word[1..]),
        b'+' => (false, &word[1..]),
        _ => (false, word),
    };
    let mut value = 0.0f64;
    let mut scale = 0.0f64;
    for &c in digits {
        if c == b'.' {
            if scale != 0.0 {
                break;
            }
            scale = 1.0;
        } else {
            value = value * 10.0 + f64::from(c - b'0');
            if scale != 0.0 {
                scale *= 10.0;
            }
        }
    }
    if scale > 1.0 {
        value /= scale;
    }
    Some(if negative { -value } else { value })
}

/// An object of the file: its value and, for a stream, where its data lies.
struct Stored {
    value: Obj,
    data: Option<std::ops::Range<usize>>,
}

/// Sorts `v` ascending: a heapsort of a few hundred bytes, because std's sorts cost kilobytes
/// of wasm for each type they are used with. Every sort here goes through this one.
fn sort_u64(v: &mut [u64]) {
    fn sift(v: &mut [u64], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && v[child] < v[child + 1] {
                child += 1;
            }
            if v[root] >= v[child] {
                return;
            }
            v.swap(root, child);
            root = child;
        }
    }
    for i in (0..v.len() / 2).rev() {
        sift(v, i, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// `items` sorted by key, the first of equal keys kept.
fn sorted_first<T>(items: Vec<(u32, T)>) -> Vec<(u32, T)> {
    let mut keys = Vec::with_capacity(items.len());
    for (i, (k, _)) in items.iter().enumerate() {
        keys.push(u64::from(*k) << 32 | i as u64);
    }
    sort_u64(&mut keys);
    let mut slots: Vec<Option<(u32, T)>> = Vec::with_capacity(items.len());
    for item in items {
        slots.push(Some(item));
    }
    let mut out = Vec::with_capacity(keys.len());
    let mut last = None;
    for k in keys {
        let key = k >> 32;
        if last == Some(key) {
            continue;
        }
        last = Some(key);
        if let Some(item) = slots
            .get_mut((k & 0xFFFF_FFFF) as usize)
            .and_then(Option::take)
        {
            out.push(item);
        }
    }
    out
}

/// The objects of a PDF, found by scanning.
struct Document<'a> {
    bytes: &'a [u8],
    /// By object number (sorted; a later definition replaces an earlier one).
    objects: Vec<(u32, Stored)>,
    trailers: Vec<Obj>,
    /// Inflated bytes so far.
    inflated: usize,
}

/// `12 0 obj` at `i`: the object number and where its value starts.
fn object_header(b: &[u8], i: usize) -> Option<(u32, usize)> {
    let mut lex = Lexer::new(b, i);
    let num = lex.regular();
    if num.is_empty() || !num.iter().all(u8::is_ascii_digit) || num.len() > 10 {
        return None;
    }
    if !b.get(lex.i).is_some_and(|c| is_white(*c)) {
        return None;
    }
    lex.skip_white();
    let generation = lex.regular();
    if generation.is_empty() || !generation.iter().all(u8::is_ascii_digit) {
        return None;
    }
    lex.skip_white();
    if lex.regular() != b"obj" {
        return None;
    }
    let n = std::str::from_utf8(num).ok()?.parse().ok()?;
    Some((n, lex.i))
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

impl<'a> Document<'a> {
    fn scan(bytes: &'a [u8]) -> Self {
        let mut doc = Document {
            bytes,
            objects: Vec::new(),
            trailers: Vec::new(),
            inflated: 0,
        };
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            let starts = c.is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_digit());
            if starts {
                if let Some((num, at)) = object_header(bytes, i) {
                    let mut lex = Lexer::new(bytes, at);
                    let value = lex.value(0).unwrap_or(Obj::Null);
                    lex.skip_white();
                    let mut data = None;
                    if bytes[lex.i..].starts_with(b"stream") {
                        let mut start = lex.i + 6;
                        if bytes.get(start) == Some(&b'\r') {
                            start += 1;
                        }
                        if bytes.get(start) == Some(&b'\n') {
                            start += 1;
                        }
                        let declared = value.get("Length").and_then(Obj::num).map(|n| n as usize);
                        let end = declared
                            .and_then(|len| start.checked_add(len))
                            .filter(|end| {
                                *end <= bytes.len() && {
                                    let mut after = Lexer::new(bytes, *end);
                                    after.skip_white();
                                    bytes[after.i..].starts_with(b"endstream")
                                }
                            })
                            .or_else(|| {
                                find(bytes, b"endstream", start).map(|e| {
                                    let mut e = e;
                                    while e > start && matches!(bytes[e - 1], b'\r' | b'\n') {
                                        e -= 1;
                                    }
                                    e
                                })
                            })
                            .unwrap_or(bytes.len());
                        data = Some(start..end);
                        lex.i = end;
                    }
                    if value.get("Type").and_then(Obj::name) == Some("XRef") {
                        doc.trailers.push(value.clone());
                    }
                    doc.objects.push((num, Stored { value, data }));
                    i = lex.i.max(i + 1);
                    continue;
                }
            }
            if c == b't' && bytes[i..].starts_with(b"trailer") {
                let mut lex = Lexer::new(bytes, i + 7);
                if let Some(t) = lex.value(0) {
                    doc.trailers.push(t);
                }
                i = lex.i.max(i + 1);
                continue;
            }
            i += 1;
        }
        doc.objects.reverse();
        doc.sort();
        doc
    }

    /// Sorts the objects by number, keeping the first of equals (callers put the winner first).
    fn sort(&mut self) {
        self.objects = sorted_first(std::mem::take(&mut self.objects));
    }

    fn object(&self, num: u32) -> Option<&Stored> {
        let at = self.objects.binary_search_by_key(&num, |(n, _)| *n).ok()?;
        Some(&self.objects[at].1)
    }

    fn resolve<'o>(&'o self, mut obj: &'o Obj) -> &'o Obj {
        for _ in 0..8 {
            match obj {
                Obj::Ref(n) => match self.object(*n) {
                    Some(stored) => obj = &stored.value,
                    None => return &Obj::Null,
                },
                _ => return obj,
            }
        }
        &Obj::Null
    }

    fn get<'o>(&'o self, obj: &'o Obj, key: &str) -> &'o Obj {
        self.resolve(obj)
            .get(key)
            .map_or(&Obj::Null, |v| self.resolve(v))
    }

    /// The decoded data of stream object `num` (`None` when it has none or uses a filter this
    /// reader does not know).
    async fn stream<I: Inflate>(&mut self, num: u32, inflater: &I) -> Option<Vec<u8>> {
        let stored = self.object(num)?;
        let range = stored.data.clone()?;
        let mut data = self.bytes.get(range)?.to_vec();
        let mut filters = Vec::new();
        match self.get(&stored.value, "Filter") {
            Obj::Name(n) => filters.push(n.clone()),
            Obj::Array(items) => {
                for f in items {
                    if let Some(name) = self.resolve(f).name() {
                        filters.push(name.to_owned());
                    }
                }
            }
            _ => {}
        }
        for filter in filters {
            data = match filter.as_str() {
                "FlateDecode" | "Fl" => {
                    let left = INFLATE_BUDGET.saturating_sub(self.inflated);
                    let max = left.min(MAX_INFLATED_BYTES);
                    let out = inflater.inflate(&data, Wrapping::Zlib, max).await.ok()?;
                    self.inflated += out.len();
                    out
                }
                "ASCIIHexDecode" | "AHx" => {
                    let mut with_end = data;
                    with_end.push(b'>');
                    Lexer::new(&with_end, 0).hex()
                }
                _ => return None,
            };
        }
        Some(data)
    }

    /// Adds the objects of every object stream (those not defined in the file itself).
    async fn read_object_streams<I: Inflate>(&mut self, inflater: &I) {
        let mut streams = Vec::new();
        for (n, s) in &self.objects {
            if s.value.get("Type").and_then(Obj::name) == Some("ObjStm") {
                streams.push(*n);
            }
        }
        let mut found = Vec::new();
        for num in streams {
            let Some(stored) = self.object(num) else {
                continue;
            };
            let count = self.get(&stored.value, "N").num().unwrap_or(0.0) as usize;
            let first = self.get(&stored.value, "First").num().unwrap_or(0.0) as usize;
            let Some(data) = self.stream(num, inflater).await else {
                continue;
            };
            let mut header = Lexer::new(&data, 0);
            let mut pairs = Vec::new();
            for _ in 0..count.min(100_000) {
                match (header.value(0), header.value(0)) {
                    (Some(Obj::Num(n)), Some(Obj::Num(off))) => {
                        pairs.push((n as u32, off as usize))
                    }
                    _ => break,
                }
            }
            for (n, off) in pairs {
                if self.object(n).is_some() {
                    continue;
                }
                let Some(at) = first.checked_add(off).filter(|a| *a < data.len()) else {
                    continue;
                };
                if let Some(value) = Lexer::new(&data, at).value(0) {
                    found.push((n, Stored { value, data: None }));
                }
            }
        }
        // Objects of the file itself win over those of object streams.
        let mut all = std::mem::take(&mut self.objects);
        all.append(&mut found);
        self.objects = all;
        self.sort();
    }

    /// The pages in page-tree order (`None` when there is no readable tree), each with its
    /// (inherited) resources.
    fn pages(&self) -> Vec<(u32, Obj)> {
        let root = self
            .trailers
            .iter()
            .rev()
            .find_map(|t| match t.get("Root") {
                Some(Obj::Ref(n)) if self.object(*n).is_some() => Some(*n),
                _ => None,
            })
            .or_else(|| {
                self.objects
                    .iter()
                    .find(|(_, s)| s.value.get("Type").and_then(Obj::name) == Some("Catalog"))
                    .map(|(n, _)| *n)
            });
        let mut out = Vec::new();
        if let Some(root) = root {
            if let Some(Obj::Ref(pages)) = self.object(root).and_then(|r| r.value.get("Pages")) {
                let mut visits = 0;
                self.walk_pages(*pages, &Obj::Null, &mut visits, &mut out, 0);
            }
        }
        if out.is_empty() {
            // No page tree to follow: the page objects in object order.
            for (n, stored) in &self.objects {
                let value = &stored.value;
                if value.get("Type").and_then(Obj::name) == Some("Page") {
                    let resources = self.get(value, "Resources").clone();
                    out.push((*n, resources));
                }
            }
        }
        out
    }

    fn walk_pages(
        &self,
        num: u32,
        inherited: &Obj,
        visits: &mut usize,
        out: &mut Vec<(u32, Obj)>,
        depth: usize,
    ) {
        // A tree that loops back on itself ends at the depth or visit cap.
        *visits += 1;
        if depth > 64 || *visits > 200_000 {
            return;
        }
        let Some(stored) = self.object(num) else {
            return;
        };
        let node = &stored.value;
        let resources = match self.get(node, "Resources") {
            Obj::Null => inherited.clone(),
            r => r.clone(),
        };
        match self.get(node, "Kids") {
            Obj::Array(kids) => {
                for kid in kids {
                    if let Obj::Ref(k) = kid {
                        self.walk_pages(*k, &resources, visits, out, depth + 1);
                    }
                }
            }
            _ => out.push((num, resources)),
        }
    }
}

/// A ToUnicode map: code → text (sorted by code), and the code lengths in bytes.
type CMap = (Vec<(u32, String)>, Vec<usize>);

/// How a font's string bytes become text.
struct Font {
    /// ToUnicode: code → text, and the code lengths in bytes it uses.
    cmap: Option<CMap>,
    /// Two-byte codes (a Type0 font).
    wide: bool,
    /// A simple font's byte → character.
    encoding: Box<[char; 256]>,
    /// Glyph widths (thousandths of the size) by code, from `FirstChar`.
    widths: Option<(u32, Vec<f64>)>,
}

impl Font {
    /// The text and the width (in thousandths of the size) of a string.
    fn decode(&self, bytes: &[u8]) -> (String, f64) {
        let mut text = String::new();
        let mut width = 0.0;
        let mut add_width = |code: u32| {
            width += self
                .widths
                .as_ref()
                .and_then(|(first, w)| w.get(code.checked_sub(*first)? as usize).copied())
                .filter(|w| *w > 0.0)
                .unwrap_or(if self.wide { 1000.0 } else { 550.0 });
        };
        if let Some((map, lengths)) = &self.cmap {
            let mut i = 0;
            while i < bytes.len() {
                let mut taken = None;
                for &len in lengths {
                    if let Some(code) = bytes.get(i..i + len) {
                        let code = code.iter().fold(0u32, |a, b| a << 8 | u32::from(*b));
                        if let Ok(at) = map.binary_search_by_key(&code, |(c, _)| *c) {
                            taken = Some((len, code, map[at].1.as_str()));
                            break;
                        }
                    }
                }
                match taken {
                    Some((len, code, t)) => {
                        text.push_str(t);
                        add_width(code);
                        i += len;
                    }
                    None => {
                        let len = if self.wide {
                            2
                        } else {
                            *lengths.first().unwrap_or(&1)
                        };
                        let code = bytes[i..(i + len).min(bytes.len())]
                            .iter()
                            .fold(0u32, |a, b| a << 8 | u32::from(*b));
                        if !self.wide && len == 1 {
                            text.push(self.encoding[code as usize & 0xFF]);
                        }
                        add_width(code);
                        i += len.max(1);
                    }
                }
            }
        } else if self.wide {
            // CIDs without a ToUnicode map cannot be read as text.
            for pair in bytes.chunks(2) {
                add_width(pair.iter().fold(0u32, |a, b| a << 8 | u32::from(*b)));
            }
        } else {
            for &b in bytes {
                let c = self.encoding[b as usize];
                if c != '\0' {
                    text.push(c);
                }
                add_width(u32::from(b));
            }
        }
        (text, width)
    }
}

/// WinAnsiEncoding's characters for 0x80–0x9F (the rest is Latin-1).
const WIN_ANSI_80: [char; 32] = [
    '€', '\0', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\0', 'Ž', '\0', '\0', '‘',
    '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\0', 'ž', 'Ÿ',
];

fn win_ansi() -> Box<[char; 256]> {
    let mut table = Box::new(['\0'; 256]);
    for (i, slot) in table.iter_mut().enumerate() {
        *slot = match i {
            0x09 | 0x0A | 0x0D => ' ',
            0x20..=0x7E | 0xA0..=0xFF => char::from(i as u8),
            0x80..=0x9F => WIN_ANSI_80[i - 0x80],
            _ => '\0',
        };
    }
    table[0xA0] = ' ';
    table[0xAD] = '-';
    table
}

/// The character a glyph name stands for (the names `/Differences` use most).
fn glyph(name: &str) -> Option<char> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(c);
    }
    if let Some(hex) = name.strip_prefix("uni").or_else(|| name.strip_prefix('u')) {
        if let Some(c) = hex
            .get(..4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
        {
            return Some(c);
        }
    }
    const NAMES: &[(&str, char)] = &[
        ("space", ' '),
        ("exclam", '!'),
        ("quotedbl", '"'),
        ("numbersign", '#'),
        ("dollar", '$'),
        ("percent", '%'),
        ("ampersand", '&'),
        ("quotesingle", '\''),
        ("quoteright", '’'),
        ("quoteleft", '‘'),
        ("parenleft", '('),
        ("parenright", ')'),
        ("asterisk", '*'),
        ("plus", '+'),
        ("comma", ','),
        ("hyphen", '-'),
        ("minus", '-'),
        ("period", '.'),
        ("slash", '/'),
        ("zero", '0'),
        ("one", '1'),
        ("two", '2'),
        ("three", '3'),
        ("four", '4'),
        ("five", '5'),
        ("six", '6'),
        ("seven", '7'),
        ("eight", '8'),
        ("nine", '9'),
        ("colon", ':'),
        ("semicolon", ';'),
        ("less", '<'),
        ("equal", '='),
        ("greater", '>'),
        ("question", '?'),
        ("at", '@'),
        ("bracketleft", '['),
        ("backslash", '\\'),
        ("bracketright", ']'),
        ("underscore", '_'),
        ("braceleft", '{'),
        ("bar", '|'),
        ("braceright", '}'),
        ("endash", '–'),
        ("emdash", '—'),
        ("bullet", '•'),
        ("quotedblleft", '“'),
        ("quotedblright", '”'),
        ("ellipsis", '…'),
        ("Euro", '€'),
        ("eacute", 'é'),
        ("egrave", 'è'),
        ("agrave", 'à'),
        ("ccedilla", 'ç'),
        ("udieresis", 'ü'),
        ("odieresis", 'ö'),
        ("adieresis", 'ä'),
        ("germandbls", 'ß'),
        ("nbspace", ' '),
    ];
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// A ToUnicode CMap: code → text and the code lengths (shortest first).
fn parse_cmap(data: &[u8]) -> CMap {
    let mut map = Vec::new();
    let mut lengths = Vec::new();
    let mut lex = Lexer::new(data, 0);
    let mut operands: Vec<Obj> = Vec::new();
    let utf16 = |b: &[u8]| {
        let mut units = Vec::with_capacity(b.len() / 2 + 1);
        for p in b.chunks(2) {
            units.push(u16::from(p[0]) << 8 | u16::from(*p.get(1).unwrap_or(&0)));
        }
        String::from_utf16_lossy(&units)
    };
    let code = |b: &[u8]| b.iter().take(4).fold(0u32, |a, c| a << 8 | u32::from(*c));
    let mut mode = "";
    while let Some(token) = lex.value(0) {
        match token {
            Obj::Op(op) => {
                match op.as_str() {
                    "begincodespacerange" | "beginbfchar" | "beginbfrange" => {
                        mode = match op.as_str() {
                            "begincodespacerange" => "space",
                            "beginbfchar" => "char",
                            _ => "range",
                        };
                    }
                    "endcodespacerange" => {
                        for o in &operands {
                            if let Obj::Str(s) = o {
                                if !s.is_empty() && s.len() <= 4 && !lengths.contains(&s.len()) {
                                    lengths.push(s.len());
                                }
                            }
                        }
                        mode = "";
                    }
                    "endbfchar" => {
                        for pair in operands.chunks(2) {
                            if let [Obj::Str(src), Obj::Str(dst)] = pair {
                                map.push((code(src), utf16(dst)));
                                if lengths.is_empty() {
                                    lengths.push(src.len().clamp(1, 4));
                                }
                            }
                        }
                        mode = "";
                    }
                    "endbfrange" => {
                        for triple in operands.chunks(3) {
                            let [Obj::Str(lo), Obj::Str(hi), dst] = triple else {
                                continue;
                            };
                            let (lo, hi) = (code(lo), code(hi));
                            if hi < lo || hi - lo > 65_535 || map.len() > 200_000 {
                                continue;
                            }
                            for (k, c) in (lo..=hi).enumerate() {
                                let text = match dst {
                                    Obj::Str(d) if !d.is_empty() => {
                                        let mut d = d.clone();
                                        let last = d.len() - 1;
                                        let bumped = u32::from(d[last]) + k as u32;
                                        d[last] = bumped as u8;
                                        if bumped > 0xFF && last > 0 {
                                            d[last - 1] =
                                                d[last - 1].wrapping_add((bumped >> 8) as u8);
                                        }
                                        utf16(&d)
                                    }
                                    Obj::Array(items) => match items.get(k) {
                                        Some(Obj::Str(d)) => utf16(d),
                                        _ => continue,
                                    },
                                    _ => continue,
                                };
                                map.push((c, text));
                            }
                        }
                        mode = "";
                    }
                    _ => {}
                }
                operands.clear();
            }
            other if !mode.is_empty() => operands.push(other),
            _ => operands.clear(),
        }
    }
    let map = sorted_first(map);
    // At most four lengths: shortest first.
    for i in 1..lengths.len() {
        let mut j = i;
        while j > 0 && lengths[j - 1] > lengths[j] {
            lengths.swap(j - 1, j);
            j -= 1;
        }
    }
    if lengths.is_empty() {
        lengths.push(2);
    }
    (map, lengths)
}

/// A 2D affine matrix `[a b c d e f]`.
#[derive(Debug, Clone, Copy)]
struct Matrix([f64; 6]);

impl Matrix {
    const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self` then `other`.
    fn then(self, other: Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = other.0;
        Matrix([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn translate(x: f64, y: f64) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, x, y])
    }

    fn from(operands: &[Obj]) -> Option<Matrix> {
        let last = operands.get(operands.len().checked_sub(6)?..)?;
        let mut m = [0.0; 6];
        for (slot, o) in m.iter_mut().zip(last) {
            *slot = o.num().filter(|v| v.is_finite())?;
        }
        Some(Matrix(m))
    }
}

/// A piece of text shown at one place.
#[derive(Debug, Clone)]
struct Run {
    x: f64,
    y: f64,
    end_x: f64,
    size: f64,
    text: String,
    /// A `T*`, `'` or `"` asked for a new line.
    new_line: bool,
}

/// One line of a page: its cells (runs far apart), baseline and largest size.
#[derive(Debug, Clone)]
struct Line {
    cells: Vec<String>,
    y: f64,
    size: f64,
    end_x: f64,
    /// Space above it, in units of its size (a paragraph break when large).
    gap: f64,
}

/// Reads one content stream's text runs.
fn runs_of(content: &[u8], fonts: &[(String, &Font)], out: &mut Vec<Run>) {
    let mut lex = Lexer::new(content, 0);
    let mut operands: Vec<Obj> = Vec::new();
    let mut ctm = Matrix::IDENTITY;
    let mut stack: Vec<Matrix> = Vec::new();
    let (mut tm, mut lm) = (Matrix::IDENTITY, Matrix::IDENTITY);
    let mut font: Option<&Font> = None;
    let (mut size, mut leading, mut scale) = (12.0f64, 0.0f64, 1.0f64);
    let mut new_line = false;
    let fallback = Font {
        cmap: None,
        wide: false,
        encoding: win_ansi(),
        widths: None,
    };
    let num = |ops: &[Obj], from_end: usize| -> f64 {
        ops.len()
            .checked_sub(from_end)
            .and_then(|i| ops[i].num())
            .filter(|n| n.is_finite())
            .unwrap_or(0.0)
    };
    while let Some(token) = lex.value(0) {
        let Obj::Op(op) = token else {
            if operands.len() < 64 {
                operands.push(token);
            }
            continue;
        };
        let show = |text: &[u8],
                    tm: &mut Matrix,
                    out: &mut Vec<Run>,
                    new_line: &mut bool,
                    pending_space: bool,
                    f: &Font| {
            let (decoded, width) = f.decode(text);
            let m = tm.then(ctm);
            let glyph = (m.0[2] * m.0[2] + m.0[3] * m.0[3]).sqrt() * size;
            let (x, y) = (m.0[4], m.0[5]);
            *tm = Matrix::translate(width / 1000.0 * size * scale, 0.0).then(*tm);
            let end = tm.then(ctm);
            let mut decoded = decoded;
            if pending_space {
                decoded.insert(0, ' ');
            }
            out.push(Run {
                x,
                y,
                end_x: end.0[4],
                size: if glyph > 0.0 && glyph.is_finite() {
                    glyph
                } else {
                    size.abs()
                },
                text: decoded,
                new_line: std::mem::take(new_line),
            });
        };
        let f = font.unwrap_or(&fallback);
        match op.as_str() {
            "q" if stack.len() < 64 => stack.push(ctm),
            "Q" => ctm = stack.pop().unwrap_or(Matrix::IDENTITY),
            "cm" => {
                if let Some(m) = Matrix::from(&operands) {
                    ctm = m.then(ctm);
                }
            }
            "BT" => {
                tm = Matrix::IDENTITY;
                lm = Matrix::IDENTITY;
                // A new text object is placed by position, not by a pending `T*`.
                new_line = false;
            }
            "Tf" => {
                size = num(&operands, 1);
                font = operands
                    .len()
                    .checked_sub(2)
                    .and_then(|i| operands[i].name())
                    .and_then(|n| fonts.iter().find(|(k, _)| k == n).map(|(_, f)| *f));
            }
            "TL" => leading = num(&operands, 1),
            "Tz" => scale = num(&operands, 1) / 100.0,
            "Td" | "TD" => {
                let (tx, ty) = (num(&operands, 2), num(&operands, 1));
                if op == "TD" {
                    leading = -ty;
                }
                lm = Matrix::translate(tx, ty).then(lm);
                tm = lm;
            }
            "Tm" => {
                if let Some(m) = Matrix::from(&operands) {
                    lm = m;
                    tm = m;
                    new_line = false;
                }
            }
            "T*" | "'" | "\"" => {
                lm = Matrix::translate(0.0, -leading).then(lm);
                tm = lm;
                new_line = true;
                if op != "T*" {
                    if let Some(Obj::Str(s)) = operands.last() {
                        show(s, &mut tm, out, &mut new_line, false, f);
                    }
                }
            }
            "Tj" => {
                if let Some(Obj::Str(s)) = operands.last() {
                    show(s, &mut tm, out, &mut new_line, false, f);
                }
            }
            "TJ" => {
                if let Some(Obj::Array(items)) = operands.last() {
                    let mut space = false;
                    for item in items {
                        match item {
                            Obj::Str(s) => {
                                show(s, &mut tm, out, &mut new_line, space, f);
                                space = false;
                            }
                            Obj::Num(n) if n.is_finite() => {
                                // A wide negative adjustment is a word space the PDF did not
                                // write as a character.
                                if *n < -200.0 {
                                    space = true;
                                }
                                tm = Matrix::translate(-n / 1000.0 * size * scale, 0.0).then(tm);
                            }
                            _ => {}
                        }
                    }
                }
            }
            "ID" => {
                // An inline image's data runs to `EI`.
                let start = lex.i;
                let mut k = start;
                while k + 2 <= content.len() {
                    if &content[k..k + 2] == b"EI"
                        && (k == 0 || is_white(content[k - 1]))
                        && content.get(k + 2).is_none_or(|c| is_white(*c))
                    {
                        break;
                    }
                    k += 1;
                }
                lex.i = (k + 2).min(content.len());
            }
            _ => {}
        }
        operands.clear();
    }
}

/// Joins a page's runs into lines: a run on another baseline (or after `T*`) starts a line, a
/// run far right of the last one's end starts a new cell.
fn lines_of(runs: &[Run], out: &mut Vec<Line>) {
    let mut current: Option<Line> = None;
    for run in runs {
        if run.text.is_empty() {
            continue;
        }
        let size = run.size.max(1.0);
        if let Some(line) = current.as_mut() {
            let same = !run.new_line && (run.y - line.y).abs() <= 0.4 * size.max(line.size);
            if same {
                let gap = run.x - line.end_x;
                let cell = line.cells.last_mut();
                match cell {
                    Some(cell) if gap <= 1.5 * size => {
                        let wants_space =
                            gap > 0.15 * size && !cell.ends_with(' ') && !run.text.starts_with(' ');
                        if wants_space {
                            cell.push(' ');
                        }
                        cell.push_str(&run.text);
                    }
                    _ => line.cells.push(run.text.clone()),
                }
                line.end_x = run.end_x;
                line.size = line.size.max(size);
                continue;
            }
        }
        let gap = current
            .as_ref()
            .map_or(0.0, |l| (l.y - run.y).abs() / size.max(l.size));
        if let Some(line) = current.take() {
            out.push(line);
        }
        current = Some(Line {
            cells: vec![run.text.clone()],
            y: run.y,
            size,
            end_x: run.end_x,
            gap,
        });
    }
    if let Some(line) = current {
        out.push(line);
    }
}

/// Writes the pages' lines as structured text: headings for lines set larger than the body,
/// blank lines at paragraph gaps and between pages, rows of cells as `| a | b |`.
fn render(pages: &[Vec<Line>]) -> String {
    let clean = super::docx::squash;
    // The body size is the one most characters are set in.
    let mut by_size: Vec<(i64, usize)> = Vec::new();
    for line in pages.iter().flatten() {
        let chars: usize = line.cells.iter().map(|c| c.trim().chars().count()).sum();
        let size = (line.size * 2.0).round() as i64;
        match by_size.iter_mut().find(|(s, _)| *s == size) {
            Some((_, n)) => *n += chars,
            None => by_size.push((size, chars)),
        }
    }
    let body = by_size
        .iter()
        .max_by_key(|(size, chars)| (*chars, -*size))
        .map_or(12.0, |(size, _)| *size as f64 / 2.0);
    let is_heading = |l: &Line| {
        l.size >= body * 1.15
            && l.cells.len() == 1
            && (1..=150).contains(&clean(&l.cells[0]).chars().count())
    };
    // The heading sizes, largest first.
    let mut heading_sizes: Vec<u64> = Vec::new();
    for line in pages.iter().flatten() {
        let size = (line.size * 2.0).round().max(0.0) as u64;
        if is_heading(line) && !heading_sizes.contains(&(u64::MAX - size)) {
            heading_sizes.push(u64::MAX - size);
        }
    }
    sort_u64(&mut heading_sizes);
    let mut out = String::new();
    for page in pages {
        for (i, line) in page.iter().enumerate() {
            // Bytes, not characters: counting characters every line would be quadratic.
            if out.len() > MAX_TEXT_BYTES {
                return out;
            }
            let mut cells = Vec::new();
            for cell in &line.cells {
                let cell = clean(cell);
                if !cell.is_empty() {
                    cells.push(cell);
                }
            }
            if cells.is_empty() {
                continue;
            }
            if is_heading(line) {
                let size = u64::MAX - (line.size * 2.0).round().max(0.0) as u64;
                let level = heading_sizes.iter().position(|s| *s == size).unwrap_or(0) + 1;
                out.push_str("\n\n");
                out.push_str(&"#".repeat(level.min(3)));
                out.push(' ');
                out.push_str(&cells[0]);
                out.push_str("\n\n");
                continue;
            }
            if i > 0 && line.gap > 1.7 {
                out.push('\n');
            }
            if cells.len() > 1 {
                out.push('|');
                for cell in &cells {
                    out.push(' ');
                    out.push_str(cell);
                    out.push_str(" |");
                }
                out.push('\n');
            } else {
                out.push_str(&cells[0]);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    tidy(&out)
}

fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        blank = false;
        out.push_str(line.trim_end());
    }
    out
}

impl Document<'_> {
    /// The font behind a font dictionary.
    async fn font<I: Inflate>(&mut self, dict: &Obj, inflater: &I) -> Font {
        let dict = self.resolve(dict).clone();
        let wide = self.get(&dict, "Subtype").name() == Some("Type0");
        let mut encoding = win_ansi();
        if let Obj::Dict(_) = self.get(&dict, "Encoding") {
            let enc = self.get(&dict, "Encoding").clone();
            if let Obj::Array(diffs) = self.get(&enc, "Differences") {
                let mut code = 0usize;
                for d in diffs {
                    match self.resolve(d) {
                        Obj::Num(n) => code = (*n).max(0.0) as usize,
                        Obj::Name(name) => {
                            if let (Some(c), true) = (glyph(name), code < 256) {
                                encoding[code] = c;
                            }
                            code += 1;
                        }
                        _ => {}
                    }
                }
            }
        }
        let widths = match (self.get(&dict, "FirstChar"), self.get(&dict, "Widths")) {
            (Obj::Num(first), Obj::Array(w)) => {
                let mut list = Vec::with_capacity(w.len());
                for v in w {
                    list.push(self.resolve(v).num().unwrap_or(0.0));
                }
                Some((first.max(0.0) as u32, list))
            }
            _ => None,
        };
        let cmap = match dict.get("ToUnicode") {
            Some(Obj::Ref(n)) => self.stream(*n, inflater).await.map(|d| parse_cmap(&d)),
            _ => None,
        }
        .filter(|(map, _)| !map.is_empty());
        Font {
            cmap,
            wide,
            encoding,
            widths,
        }
    }
}

/// Extracts the structured text of a PDF, or says why it has none.
pub async fn extract<I: Inflate>(bytes: &[u8], inflater: &I) -> Result<String, String> {
    let head = &bytes[..bytes.len().min(1024)];
    if find(head, b"%PDF-", 0).is_none() {
        return Err("The file is not a PDF (it does not start with %PDF-).".into());
    }
    let mut doc = Document::scan(bytes);
    if doc.objects.is_empty() {
        return Err("The PDF is damaged: no objects could be read.".into());
    }
    if doc.trailers.iter().any(|t| t.get("Encrypt").is_some()) {
        return Err(
            "The PDF is encrypted (password-protected or with restrictions): its text cannot be read. Save an unencrypted copy and upload that."
                .into(),
        );
    }
    doc.read_object_streams(inflater).await;
    let pages = doc.pages();
    if pages.is_empty() {
        return Err("The PDF is damaged: it has no pages that can be read.".into());
    }
    // Fonts read so far, by object number.
    let mut fonts_by_object: Vec<(u32, usize)> = Vec::new();
    let mut all_fonts: Vec<Font> = Vec::new();
    let mut rendered: Vec<Vec<Line>> = Vec::new();
    for (page, resources) in pages {
        // The page's fonts by resource name.
        let mut names: Vec<(String, usize)> = Vec::new();
        if let Obj::Dict(entries) = doc.get(&resources, "Font").clone() {
            for (name, value) in entries {
                let known = match value {
                    Obj::Ref(n) => fonts_by_object
                        .iter()
                        .find(|(k, _)| *k == n)
                        .map(|(_, i)| *i),
                    _ => None,
                };
                let index = match known {
                    Some(i) => i,
                    None => {
                        let other = value;
                        let font = doc.font(&other, inflater).await;
                        all_fonts.push(font);
                        if let Obj::Ref(n) = other {
                            fonts_by_object.push((n, all_fonts.len() - 1));
                        }
                        all_fonts.len() - 1
                    }
                };
                names.push((name, index));
            }
        }
        let mut contents = Vec::new();
        let listed = doc.object(page).and_then(|p| p.value.get("Contents"));
        match listed.map(|c| (c, doc.resolve(c))) {
            Some((_, Obj::Array(items))) => {
                for item in items {
                    if let Obj::Ref(r) = item {
                        contents.push(*r);
                    }
                }
            }
            Some((Obj::Ref(n), _)) => contents.push(*n),
            _ => {}
        }
        // A page's content may be split over streams anywhere, even inside an operator.
        let mut content = Vec::new();
        for c in contents {
            if let Some(data) = doc.stream(c, inflater).await {
                content.extend_from_slice(&data);
                content.push(b'\n');
            }
        }
        let fonts: Vec<(String, &Font)> = names
            .into_iter()
            .filter_map(|(name, i)| Some((name, all_fonts.get(i)?)))
            .collect();
        let mut runs = Vec::new();
        runs_of(&content, &fonts, &mut runs);
        let mut lines = Vec::new();
        lines_of(&runs, &mut lines);
        rendered.push(lines);
    }
    let text = render(&rendered);
    if text.trim().is_empty() {
        return Err(
            "The PDF has no text that can be extracted (a scan or images only?): upload a PDF with selectable text, or its text."
                .into(),
        );
    }
    Ok(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::knowledge::inflate::TestInflate;

    /// A PDF of `objects` (number, dictionary, stream data), with a trailer naming object 1 as
    /// the catalog.
    pub fn pdf(objects: &[(u32, &str, Option<&[u8]>)], trailer: &str) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        for (num, dict, data) in objects {
            out.extend_from_slice(format!("{num} 0 obj\n{dict}\n").as_bytes());
            if let Some(data) = data {
                out.extend_from_slice(b"stream\n");
                out.extend_from_slice(data);
                out.extend_from_slice(b"\nendstream\n");
            }
            out.extend_from_slice(b"endobj\n");
        }
        out.extend_from_slice(format!("trailer\n{trailer}\n%%EOF\n").as_bytes());
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
    }

    fn text_of(bytes: &[u8]) -> Result<String, String> {
        block_on(extract(bytes, &TestInflate))
    }

    const CONTENT: &[u8] = b"BT /F1 20 Tf 72 750 Td (Returns \\(and refunds\\)) Tj ET
BT /F1 11 Tf 14 TL 72 700 Td (Send it back within) Tj ( 30 days.) Tj T* [(No) -250 (ques) 10 (tions) -300 (asked.)] TJ
(Caf\\351 \\
open) ' <204C616D70> Tj ET
BT /F1 11 Tf 1 0 0 1 72 600 Tm (Plan) Tj 1 0 0 1 222 600 Tm (Price) Tj 1 0 0 1 72 586 Tm (Pro) Tj 1 0 0 1 222 586 Tm ($9) Tj ET
BI /W 2 /H 2 /BPC 8 /CS /G ID \x00EI\xFF EI
q 1 0 0 1 0 -100 cm BT /F1 11 Tf 72 600 Td (Shifted by the matrix.) Tj ET Q";

    #[test]
    fn plain_pdf_keeps_headings_lines_and_columns() {
        let file = pdf(
            &[
                (1, "<< /Type /Catalog /Pages 2 0 R >>", None),
                (2, "<< /Type /Pages /Kids [3 0 R] /Count 1 /Resources << /Font << /F1 5 0 R >> >> >>", None),
                (3, "<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>", None),
                (4, &format!("<< /Length {} >>", CONTENT.len()), Some(CONTENT)),
                (5, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", None),
            ],
            "<< /Root 1 0 R /Size 6 >>",
        );
        let text = text_of(&file).unwrap();
        assert_eq!(
            text,
            "# Returns (and refunds)\n\nSend it back within 30 days.\nNo questions asked.\nCafé open Lamp\n\n| Plan | Price |\n| Pro | $9 |\n\nShifted by the matrix."
        );
    }

    #[test]
    fn object_streams_flate_and_to_unicode_cmaps_are_read_in_page_order() {
        // Page 2's object comes first in the file: the page tree decides the order.
        let page_one = zlib(b"BT /F1 12 Tf 72 700 Td <00010002> Tj <0003> Tj ET");
        let page_two = b"BT /F2 12 Tf 72 700 Td (Second page) Tj ET".to_vec();
        let cmap = zlib(
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap
1 begincodespacerange <0000> <FFFF> endcodespacerange
2 beginbfchar <0001> <0048> <0003> <00200021> endbfchar
1 beginbfrange <0002> <0002> <0069> endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end",
        );
        let inner = "<< /Type /Catalog /Pages 2 0 R >> << /Type /Pages /Kids [4 0 R 3 0 R] /Count 2 >> << /Type /Page /Parent 2 0 R /Contents 7 0 R /Resources << /Font << /F2 9 0 R >> >> >>";
        let offsets = {
            let first = inner.find("<< /Type /Pages").unwrap();
            let third = inner.find("<< /Type /Page /Parent").unwrap();
            format!("1 0 2 {first} 3 {third} ")
        };
        let objstm = zlib(format!("{offsets}{inner}").as_bytes());
        let objstm_dict = format!(
            "<< /Type /ObjStm /N 3 /First {} /Filter /FlateDecode /Length {} >>",
            offsets.len(),
            objstm.len()
        );
        let file = pdf(
            &[
                (7, &format!("<< /Length {} >>", page_two.len()), Some(&page_two)),
                (4, "<< /Type /Page /Parent 2 0 R /Contents [6 0 R] /Resources << /Font << /F1 8 0 R >> >> >>", None),
                (5, &objstm_dict, Some(&objstm)),
                (6, &format!("<< /Filter /FlateDecode /Length {} >>", page_one.len()), Some(&page_one)),
                (8, "<< /Type /Font /Subtype /Type0 /BaseFont /Custom /Encoding /Identity-H /ToUnicode 10 0 R >>", None),
                (9, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", None),
                (10, "<< /Filter [/FlateDecode] /Length 999999 >>", Some(&cmap)),
            ],
            "<< /Root 1 0 R >>",
        );
        assert_eq!(text_of(&file).unwrap(), "Hi !\n\nSecond page");
    }

    #[test]
    fn differences_and_widths_shape_the_text() {
        let content = b"BT /F1 10 Tf 72 700 Td <0102> Tj 90 0 Td (x) Tj ET";
        let file = pdf(
            &[
                (1, "<< /Type /Catalog /Pages 2 0 R >>", None),
                (2, "<< /Type /Pages /Kids [3 0 R] >>", None),
                (3, "<< /Type /Page /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>", None),
                (4, "<< /Length 4 0 R >>", Some(content)),
                (5, "<< /Subtype /Type1 /FirstChar 1 /Widths [500 500] /Encoding << /BaseEncoding /WinAnsiEncoding /Differences [1 /f /uni00E9] >> >>", None),
            ],
            "<< /Root 1 0 R >>",
        );
        // "fé" ends at 82; "x" starts at 162, far enough to be another column.
        assert_eq!(text_of(&file).unwrap(), "| fé | x |");
    }

    #[test]
    fn encrypted_scanned_damaged_and_foreign_files_are_reasons() {
        let encrypted = pdf(
            &[(1, "<< /Type /Catalog >>", None)],
            "<< /Root 1 0 R /Encrypt 9 0 R >>",
        );
        assert!(text_of(&encrypted).unwrap_err().contains("encrypted"));
        let image = b"q 100 0 0 100 0 0 cm /Im1 Do Q";
        let scan = pdf(
            &[
                (1, "<< /Type /Catalog /Pages 2 0 R >>", None),
                (2, "<< /Type /Pages /Kids [3 0 R] >>", None),
                (3, "<< /Type /Page /Contents 4 0 R >>", None),
                (4, "<< >>", Some(image)),
            ],
            "<< /Root 1 0 R >>",
        );
        assert!(text_of(&scan)
            .unwrap_err()
            .contains("no text that can be extracted"));
        assert!(text_of(b"%PDF-1.4 broken").unwrap_err().contains("damaged"));
        assert!(text_of(b"hello").unwrap_err().contains("not a PDF"));
        assert!(text_of(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj")
            .unwrap_err()
            .contains("no pages"));
    }

    #[test]
    fn the_heapsort_sorts_and_the_first_of_equal_keys_wins() {
        let mut seed = 7u64;
        for len in [0, 1, 2, 3, 10, 257] {
            let mut v: Vec<u64> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    seed >> 50
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_unstable();
            sort_u64(&mut v);
            assert_eq!(v, expected);
        }
        let items = vec![
            (5, "late five"),
            (1, "one"),
            (5, "early five"),
            (3, "three"),
        ];
        assert_eq!(
            sorted_first(items),
            vec![(1, "one"), (3, "three"), (5, "late five")]
        );
    }

    #[test]
    fn truncated_corrupted_and_hostile_pdfs_never_panic() {
        let file = pdf(
            &[
                (1, "<< /Type /Catalog /Pages 2 0 R >>", None),
                (
                    2,
                    "<< /Type /Pages /Kids [3 0 R 2 0 R] /Resources << /Font << /F1 5 0 R >> >> >>",
                    None,
                ),
                (3, "<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>", None),
                (
                    4,
                    "<< /Filter /FlateDecode /Length 7 >>",
                    Some(&zlib(CONTENT)),
                ),
                (
                    5,
                    "<< /Subtype /Type0 /ToUnicode 4 0 R /Widths 5 0 R /FirstChar -4 >>",
                    None,
                ),
            ],
            "<< /Root 1 0 R >>",
        );
        // A Type0 font whose ToUnicode is no CMap: nothing readable, said so.
        assert!(text_of(&file).unwrap_err().contains("no text"));
        for cut in (0..file.len()).step_by(11) {
            let _ = text_of(&file[..cut]);
        }
        let mut bytes = file.clone();
        for i in (9..bytes.len()).step_by(5) {
            bytes[i] = bytes[i].wrapping_add(77);
            let _ = text_of(&bytes);
        }
        let nested = format!("%PDF-1.7\n1 0 obj {} endobj", "[<<".repeat(5_000));
        let _ = text_of(nested.as_bytes());
        let strings =
            b"%PDF-1.7\n1 0 obj (unclosed \\\\\\(( <abc endobj 2 0 obj /#4 [ 3 0 obj stream\n";
        let _ = text_of(strings);
        let huge_range = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj 2 0 obj << /Type /Page /Contents 3 0 R /Resources << /Font << /F 4 0 R >> >> >> endobj 3 0 obj << /Length 14 >> stream\n/F 9 Tf (a) Tj\nendstream endobj 4 0 obj << /ToUnicode 5 0 R >> endobj 5 0 obj << >> stream\nbeginbfrange <00000000> <FFFFFFFF> <0041> endbfrange\nendstream endobj";
        let _ = text_of(huge_range);
    }
}
