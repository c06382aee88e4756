//! The backtrace of a stalled loop thread, and turning its addresses into
//! names.
//!
//! The frames are captured in a signal handler on the stalled thread (see
//! the loop's watchdog); naming them happens afterwards, on the loop thread
//! once the poll returned, in the stall path only. Each address is looked
//! up in the symbol table (`.symtab`, else `.dynsym`) of the ELF object
//! `dladdr` says holds it — read once per object with positioned reads of
//! its section headers, symbol table and string table, and cached — or,
//! failing that, in the dynamic symbol `dladdr` itself found. Rust's legacy
//! mangling is undone (`_ZN...17h<hash>E`); v0 names are kept as they are.
//! A stripped binary gives addresses only.

use std::ffi::CStr;
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One frame of a stall backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame {
    /// The instruction address (a return address but for the first frame).
    pub addr: usize,
    /// The function's name, demangled, when the symbol tables have it.
    pub symbol: Option<String>,
    /// `addr` minus the function's start, when `symbol` is known.
    pub offset: usize,
}

/// The stack of a loop thread caught in a stall, innermost frame first
/// (the signal handler's own frames left out).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StallBacktrace {
    /// The frames.
    pub frames: Vec<Frame>,
    /// Time the stalled thread spent in the signal handler capturing them.
    pub capture: Duration,
    /// Time naming them took, on the loop thread after the poll.
    pub symbolize: Duration,
}

impl StallBacktrace {
    /// Whether a frame's symbol contains `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.frames
            .iter()
            .any(|f| f.symbol.as_deref().is_some_and(|s| s.contains(name)))
    }
}

impl fmt::Display for StallBacktrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  backtrace (captured in {:?}, named in {:?}):",
            self.capture, self.symbolize
        )?;
        for (i, fr) in self.frames.iter().enumerate() {
            match &fr.symbol {
                Some(s) => writeln!(f, "  {i:>3}: {s}+{:#x}", fr.offset)?,
                None => writeln!(f, "  {i:>3}: {:#x}", fr.addr)?,
            }
        }
        Ok(())
    }
}

/// Names `addrs` (innermost first) and drops the signal handler's frames.
pub(crate) fn resolve(addrs: &[usize], capture: Duration) -> StallBacktrace {
    let t0 = std::time::Instant::now();
    let mut frames: Vec<Frame> = addrs
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            // A return address points after the call: look up the call.
            let look = if i == 0 { a } else { a.saturating_sub(1) };
            let (symbol, start) = lookup(look).map_or((None, a), |(s, st)| (Some(s), st));
            Frame {
                addr: a,
                symbol,
                offset: a.saturating_sub(start),
            }
        })
        .collect();
    // The handler's frames, then the kernel's signal trampoline.
    if let Some(i) = frames.iter().position(|f| {
        f.symbol
            .as_deref()
            .is_some_and(|s| s.contains("watchdog::on_signal"))
    }) {
        let mut skip = i + 1;
        if frames
            .get(skip)
            .is_some_and(|f| f.symbol.as_deref().is_none_or(|s| s.contains("restore_rt")))
        {
            skip += 1;
        }
        frames.drain(..skip.min(frames.len()));
    }
    StallBacktrace {
        frames,
        capture,
        symbolize: t0.elapsed(),
    }
}

/// The demangled name and start address of the function holding `addr`.
fn lookup(addr: usize) -> Option<(String, usize)> {
    // SAFETY: a zeroed Dl_info is a valid out-value for dladdr.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the process's link map for `addr`.
    if unsafe { libc::dladdr(addr as *const libc::c_void, &mut info) } == 0 {
        return None;
    }
    let base = info.dli_fbase as usize;
    let path = object_path(&info);
    if let Some(table) = path.and_then(|p| table_for(&p, base)) {
        if let Some((name, start)) = table.find(addr) {
            return Some((demangle(name), start));
        }
    }
    if info.dli_sname.is_null() {
        return None;
    }
    // SAFETY: dladdr set a non-null dli_sname to a NUL-terminated string
    // of the loaded object, alive while the object is loaded.
    let name = unsafe { CStr::from_ptr(info.dli_sname) }.to_string_lossy();
    Some((demangle(&name), info.dli_saddr as usize))
}

/// The file of the object `info` describes; the main program's is
/// `/proc/self/exe` (dladdr gives it as `argv[0]`, or empty).
fn object_path(info: &libc::Dl_info) -> Option<String> {
    let mut me: libc::Dl_info = unsafe_zeroed();
    // SAFETY: as in `lookup`; `lookup` is a function of the main program
    // when the runtime is linked statically, which it is (rlib).
    let ok = unsafe { libc::dladdr(lookup as *const libc::c_void, &mut me) } != 0;
    if ok && me.dli_fbase == info.dli_fbase {
        return Some("/proc/self/exe".into());
    }
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: a non-null dli_fname is a NUL-terminated path of the object.
    let p = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy();
    (!p.is_empty()).then(|| p.into_owned())
}

fn unsafe_zeroed() -> libc::Dl_info {
    // SAFETY: Dl_info is plain data (pointers); all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// An object's function symbols, sorted by address.
struct Table {
    /// Added to a symbol's value to get its address (the load base for a
    /// position-independent object, 0 for a fixed one).
    bias: usize,
    syms: Vec<(u64, u64, u32)>,
    names: Vec<u8>,
}

impl Table {
    fn find(&self, addr: usize) -> Option<(&str, usize)> {
        let v = addr.checked_sub(self.bias)? as u64;
        let i = self.syms.partition_point(|s| s.0 <= v).checked_sub(1)?;
        let (start, size, name) = self.syms[i];
        if size != 0 && v >= start + size {
            return None;
        }
        let rest = self.names.get(name as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        let name = std::str::from_utf8(&rest[..end]).ok()?;
        Some((name, start as usize + self.bias))
    }
}

type Cache = Vec<(String, usize, Option<Arc<Table>>)>;

fn table_for(path: &str, base: usize) -> Option<Arc<Table>> {
    static CACHE: Mutex<Cache> = Mutex::new(Vec::new());
    let mut c = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, _, t)) = c.iter().find(|(p, b, _)| p == path && *b == base) {
        return t.clone();
    }
    let t = read_table(path, base).map(Arc::new);
    c.push((path.to_string(), base, t.clone()));
    t
}

fn u16_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as u64)
}
fn u32_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?) as u64)
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

fn read_at(f: &File, off: u64, len: u64) -> Option<Vec<u8>> {
    if len > 1 << 30 {
        return None;
    }
    let mut v = vec![0u8; len as usize];
    f.read_exact_at(&mut v, off).ok()?;
    Some(v)
}

/// Reads the function symbols of a 64-bit little-endian ELF file.
fn read_table(path: &str, base: usize) -> Option<Table> {
    const SHT_SYMTAB: u64 = 2;
    const SHT_DYNSYM: u64 = 11;
    const ET_DYN: u64 = 3;
    const STT_FUNC: u8 = 2;
    let f = File::open(path).ok()?;
    let eh = read_at(&f, 0, 64)?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return None;
    }
    let bias = if u16_at(&eh, 16)? == ET_DYN { base } else { 0 };
    let (shoff, shentsize, shnum) = (u64_at(&eh, 0x28)?, u16_at(&eh, 0x3A)?, u16_at(&eh, 0x3C)?);
    if shentsize < 64 {
        return None;
    }
    let sh = read_at(&f, shoff, shentsize * shnum)?;
    let section = |i: u64| {
        let o = (i * shentsize) as usize;
        Some((
            u32_at(&sh, o + 4)?,
            u64_at(&sh, o + 0x18)?,
            u64_at(&sh, o + 0x20)?,
            u32_at(&sh, o + 0x28)?,
        ))
    };
    let pick = |want: u64| (0..shnum).find_map(|i| section(i).filter(|s| s.0 == want));
    let (_, off, size, link) = pick(SHT_SYMTAB).or_else(|| pick(SHT_DYNSYM))?;
    let (_, str_off, str_size, _) = section(link)?;
    let raw = read_at(&f, off, size)?;
    let names = read_at(&f, str_off, str_size)?;
    let mut syms: Vec<(u64, u64, u32)> = raw
        .chunks_exact(24)
        .filter(|s| s[4] & 0xf == STT_FUNC)
        .filter_map(|s| Some((u64_at(s, 8)?, u64_at(s, 16)?, u32_at(s, 0)? as u32)))
        .filter(|s| s.0 != 0)
        .collect();
    syms.sort_unstable();
    Some(Table { bias, syms, names })
}

/// Undoes Rust's legacy mangling (`_ZN` length-prefixed parts `E`, the
/// last part a `h` + 16 hex digits hash) and the plain paths of v0
/// mangling (`_R` with nested `N`/`C` paths: `std::thread::sleep`); other
/// names (generic v0 instances among them) are returned as is.
pub(crate) fn demangle(s: &str) -> String {
    if let Some(v0) = s.strip_prefix("_R") {
        let mut p = V0(v0.as_bytes());
        if let Some(path) = p.path() {
            return path;
        }
        return s.to_string();
    }
    let Some(mut rest) = s.strip_prefix("_ZN") else {
        return s.to_string();
    };
    let mut parts = Vec::new();
    while !rest.starts_with('E') {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(len) = rest[..digits].parse::<usize>() else {
            return s.to_string();
        };
        let Some(part) = rest.get(digits..digits + len) else {
            return s.to_string();
        };
        parts.push(part);
        rest = &rest[digits + len..];
    }
    if parts.last().is_some_and(|p| {
        p.len() == 17 && p.starts_with('h') && p[1..].bytes().all(|b| b.is_ascii_hexdigit())
    }) {
        parts.pop();
    }
    parts
        .iter()
        .map(|p| unescape(p))
        .collect::<Vec<_>>()
        .join("::")
}

/// A v0 symbol's remaining bytes; only crate roots and nested paths.
struct V0<'a>(&'a [u8]);

impl V0<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&c, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(c)
    }

    fn path(&mut self) -> Option<String> {
        match self.next()? {
            b'C' => self.ident().map(str::to_string),
            b'N' => {
                let ns = self.next()?;
                let parent = self.path()?;
                let name = self.ident()?;
                Some(match ns {
                    b'C' => format!("{parent}::{{closure}}"),
                    b'S' => format!("{parent}::{{shim}}"),
                    _ => format!("{parent}::{name}"),
                })
            }
            _ => None,
        }
    }

    /// `[s<base62>_] <decimal> [_] <bytes>`; punycode (`u`) is refused.
    fn ident(&mut self) -> Option<&str> {
        if self.0.first() == Some(&b's') {
            let end = self.0.iter().position(|&c| c == b'_')?;
            self.0 = &self.0[end + 1..];
        }
        if self.0.first() == Some(&b'u') {
            return None;
        }
        let digits = self.0.iter().take_while(|c| c.is_ascii_digit()).count();
        let len: usize = std::str::from_utf8(&self.0[..digits]).ok()?.parse().ok()?;
        self.0 = &self.0[digits..];
        if self.0.first() == Some(&b'_') {
            self.0 = &self.0[1..];
        }
        let (name, rest) = (self.0.get(..len)?, self.0.get(len..)?);
        self.0 = rest;
        std::str::from_utf8(name).ok()
    }
}

fn unescape(p: &str) -> String {
    let p = p
        .strip_prefix("_$")
        .map_or(p.to_string(), |r| format!("${r}"));
    let mut out = String::new();
    let mut rest = p.as_str();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("..") {
            out.push_str("::");
            rest = r;
        } else if rest.starts_with('$') {
            let Some(end) = rest[1..].find('$') else {
                out.push_str(rest);
                break;
            };
            let code = &rest[1..1 + end];
            let c = match code {
                "SP" => Some('@'),
                "BP" => Some('*'),
                "RF" => Some('&'),
                "LT" => Some('<'),
                "GT" => Some('>'),
                "LP" => Some('('),
                "RP" => Some(')'),
                "C" => Some(','),
                _ => code
                    .strip_prefix('u')
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32),
            };
            match c {
                Some(c) => out.push(c),
                None => out.push_str(&rest[..end + 2]),
            }
            rest = &rest[end + 2..];
        } else {
            let n = rest.find(['$', '.']).unwrap_or(rest.len()).max(1);
            out.push_str(&rest[..n]);
            rest = &rest[n..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_legacy_names() {
        assert_eq!(
            demangle("_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$17h0123456789abcdefE"),
            "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>"
        );
        assert_eq!(demangle("_ZN3foo3barE"), "foo::bar");
        assert_eq!(demangle("main"), "main");
        assert_eq!(
            demangle("_RNvNtNtCsjrHSEGnQ3l9_3std6thread9functions5sleep"),
            "std::thread::functions::sleep"
        );
        assert_eq!(
            demangle("_RNCNvCs3mSbOeLENLV_4test8run_test0B3_"),
            "test::run_test::{closure}"
        );
        // A generic instance is left mangled.
        let generic = "_RINvCs3mSbOeLENLV_4test28___rust_begin_short_backtraceB2_";
        assert_eq!(demangle(generic), generic);
        assert_eq!(demangle("_ZN3fooX"), "_ZN3fooX");
    }

    #[inline(never)]
    fn a_named_function() -> usize {
        a_named_function as *const () as usize
    }

    #[test]
    fn names_a_function_of_this_binary() {
        let addr = a_named_function() + 1;
        let (name, start) = lookup(addr).expect("symbol tables of the test binary");
        assert!(name.contains("a_named_function"), "{name}");
        assert_eq!(start, addr - 1);
    }
}
