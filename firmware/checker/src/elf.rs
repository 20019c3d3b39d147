//! Just enough ELF32 to size a firmware and name the software floating-point routines it
//! links: section sizes, the symbol table, and (on Thumb-2) who calls whom through `bl`.

use std::collections::{BTreeMap, BTreeSet};

pub struct Elf {
    pub machine: u16,
    pub sections: Vec<Section>,
    pub symbols: Vec<Symbol>,
    data: Vec<u8>,
}

pub struct Section {
    pub name: String,
    pub addr: u32,
    pub offset: u32,
    pub size: u32,
    pub kind: u32,
}

#[derive(Clone)]
pub struct Symbol {
    pub name: String,
    pub value: u32,
    pub size: u32,
    /// `STT_FUNC` (2) or `STT_OBJECT` (1), ...
    pub kind: u8,
}

/// `e_machine` of 32-bit Arm.
pub const EM_ARM: u16 = 40;

fn u16_at(d: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(o..o + 2)?.try_into().ok()?))
}

fn u32_at(d: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?))
}

fn c_str(d: &[u8], o: usize) -> String {
    let end = d[o.min(d.len())..]
        .iter()
        .position(|&b| b == 0)
        .map_or(d.len(), |p| o + p);
    String::from_utf8_lossy(&d[o.min(end)..end]).into_owned()
}

impl Elf {
    pub fn parse(data: Vec<u8>) -> Result<Elf, String> {
        let d = &data;
        if d.get(..4) != Some(b"\x7fELF") || d.get(4) != Some(&1) || d.get(5) != Some(&1) {
            return Err("not a little-endian ELF32 file".into());
        }
        let bad = || "truncated ELF header".to_string();
        let machine = u16_at(d, 0x12).ok_or_else(bad)?;
        let shoff = u32_at(d, 0x20).ok_or_else(bad)? as usize;
        let shentsize = u16_at(d, 0x2E).ok_or_else(bad)? as usize;
        let shnum = u16_at(d, 0x30).ok_or_else(bad)? as usize;
        let shstrndx = u16_at(d, 0x32).ok_or_else(bad)? as usize;
        let header = |i: usize| -> Option<[u32; 10]> {
            let o = shoff + i * shentsize;
            let mut h = [0u32; 10];
            for (k, v) in h.iter_mut().enumerate() {
                *v = u32_at(d, o + 4 * k)?;
            }
            Some(h)
        };
        let headers: Vec<[u32; 10]> = (0..shnum)
            .map(header)
            .collect::<Option<_>>()
            .ok_or("truncated section headers")?;
        let names = headers.get(shstrndx).ok_or("no section names")?[4] as usize;
        let sections: Vec<Section> = headers
            .iter()
            .map(|h| Section {
                name: c_str(d, names + h[0] as usize),
                kind: h[1],
                addr: h[3],
                offset: h[4],
                size: h[5],
            })
            .collect();
        let mut symbols = vec![];
        for h in headers.iter().filter(|h| h[1] == 2) {
            // SHT_SYMTAB: 16-byte entries, names in the section its sh_link names.
            let strtab = headers.get(h[6] as usize).ok_or("bad symtab link")?[4] as usize;
            let (off, size) = (h[4] as usize, h[5] as usize);
            for o in (off..off + size).step_by(16) {
                let sym = || -> Option<Symbol> {
                    Some(Symbol {
                        name: c_str(d, strtab + u32_at(d, o)? as usize),
                        value: u32_at(d, o + 4)?,
                        size: u32_at(d, o + 8)?,
                        kind: *d.get(o + 12)? & 0xF,
                    })
                };
                if let Some(s) = sym().filter(|s| !s.name.is_empty()) {
                    symbols.push(s);
                }
            }
        }
        Ok(Elf {
            machine,
            sections,
            symbols,
            data,
        })
    }

    pub fn section_size(&self, name: &str) -> u32 {
        self.sections
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.size)
            .sum()
    }

    /// Functions (address without the Thumb bit → name), one name per address.
    fn functions(&self) -> BTreeMap<u32, &Symbol> {
        let mut f = BTreeMap::new();
        for s in self.symbols.iter().filter(|s| s.kind == 2) {
            f.entry(s.value & !1).or_insert(s);
        }
        f
    }

    /// The bytes of the function at `addr` (from its section in the file).
    fn code(&self, addr: u32, size: u32) -> Option<&[u8]> {
        let sec = self
            .sections
            .iter()
            .find(|s| s.kind == 1 && s.addr <= addr && addr + size <= s.addr + s.size)?;
        let start = (sec.offset + addr - sec.addr) as usize;
        self.data.get(start..start + size as usize)
    }

    /// Callers of each function, from the Thumb-2 `bl` / `b.w` instructions in every function
    /// (Arm only; empty elsewhere). Keyed by callee address.
    pub fn callers(&self) -> BTreeMap<u32, BTreeSet<u32>> {
        let mut calls: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        if self.machine != EM_ARM {
            return calls;
        }
        let funcs = self.functions();
        for (&addr, sym) in &funcs {
            let Some(code) = self.code(addr, sym.size) else {
                continue;
            };
            let mut i = 0;
            while i + 2 <= code.len() {
                let hw1 = u16::from_le_bytes([code[i], code[i + 1]]);
                let wide = (hw1 >> 11) >= 0b11101;
                if wide && i + 4 <= code.len() {
                    let hw2 = u16::from_le_bytes([code[i + 2], code[i + 3]]);
                    // BL (T1): 11110 S imm10 | 11 J1 1 J2 imm11; B.W (T4): 11110 .. | 10 J1 1 J2 ..
                    if hw1 >> 11 == 0b11110 && (hw2 & 0xD000 == 0xD000 || hw2 & 0xD000 == 0x9000) {
                        let s = u32::from((hw1 >> 10) & 1);
                        let j1 = u32::from((hw2 >> 13) & 1);
                        let j2 = u32::from((hw2 >> 11) & 1);
                        let i1 = !(j1 ^ s) & 1;
                        let i2 = !(j2 ^ s) & 1;
                        let imm = (s << 24)
                            | (i1 << 23)
                            | (i2 << 22)
                            | (u32::from(hw1 & 0x3FF) << 12)
                            | (u32::from(hw2 & 0x7FF) << 1);
                        let offset = ((imm << 7) as i32) >> 7; // sign-extend 25 bits
                        let pc = addr + i as u32 + 4;
                        let target = pc.wrapping_add(offset as u32) & !1;
                        if target != addr && funcs.contains_key(&target) {
                            calls.entry(target).or_default().insert(addr);
                        }
                    }
                    i += 4;
                } else {
                    i += 2;
                }
            }
        }
        calls
    }
}

/// A readable name for a Rust symbol: the path of a legacy `_ZN..E` name without its hash,
/// the last identifier of a v0 `_R..` name, anything else as it is.
pub fn demangle(name: &str) -> String {
    if let Some(rest) = name.strip_prefix("_ZN") {
        let b = rest.as_bytes();
        let (mut i, mut parts) = (0, vec![]);
        while i < b.len() && b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let len: usize = rest[start..i].parse().unwrap_or(0);
            let Some(part) = rest.get(i..i + len) else {
                break;
            };
            parts.push(
                part.replace("$LT$", "<")
                    .replace("$GT$", ">")
                    .replace("$u20$", " ")
                    .replace("..", "::"),
            );
            i += len;
        }
        if parts
            .last()
            .is_some_and(|p| p.len() == 17 && p.starts_with('h'))
        {
            parts.pop();
        }
        return parts.join("::");
    }
    if name.starts_with("_R") {
        // The last `<len>[_]<ident>` that ends the name.
        let b = name.as_bytes();
        for start in (0..b.len()).rev() {
            if !b[start].is_ascii_digit() || (start > 0 && b[start - 1].is_ascii_digit()) {
                continue;
            }
            let mut j = start;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let len: usize = name[start..j].parse().unwrap_or(0);
            let ident = name[j..]
                .strip_prefix('_')
                .filter(|r| r.len() == len)
                .or(Some(&name[j..]).filter(|r| r.len() == len));
            if let Some(id) = ident {
                return id.to_string();
            }
        }
    }
    name.to_string()
}

/// Whether a (demangled) symbol is a software floating-point routine or table, and which
/// kind: `f64` for double-precision builtins, `f32` for single-precision ones (RV32IMAC has
/// no FPU at all), `libm` / `wide` for their software functions and tables.
pub fn soft_float(name: &str) -> Option<&'static str> {
    const F64: &[&str] = &[
        "__adddf3",
        "__subdf3",
        "__muldf3",
        "__divdf3",
        "__negdf2",
        "__extendsfdf2",
        "__truncdfsf2",
        "__eqdf2",
        "__nedf2",
        "__gedf2",
        "__gtdf2",
        "__ledf2",
        "__ltdf2",
        "__unorddf2",
        "__cmpdf2",
        "__floatsidf",
        "__floatunsidf",
        "__floatdidf",
        "__floatundidf",
        "__fixdfsi",
        "__fixunsdfsi",
        "__fixdfdi",
        "__fixunsdfdi",
        "__powidf2",
    ];
    const F32: &[&str] = &[
        "__addsf3",
        "__subsf3",
        "__mulsf3",
        "__divsf3",
        "__negsf2",
        "__eqsf2",
        "__nesf2",
        "__gesf2",
        "__gtsf2",
        "__lesf2",
        "__ltsf2",
        "__unordsf2",
        "__cmpsf2",
        "__floatsisf",
        "__floatunsisf",
        "__floatdisf",
        "__floatundisf",
        "__fixsfsi",
        "__fixunssfsi",
        "__fixsfdi",
        "__fixunssfdi",
        "__powisf2",
    ];
    if let Some(arm) = name.strip_prefix("__aeabi_") {
        let double = arm.starts_with('d') || arm.ends_with("2d") || arm.contains("d2");
        let single = arm.starts_with('f') || arm.ends_with("2f") || arm.contains("f2");
        return if double {
            Some("f64")
        } else if single {
            Some("f32")
        } else {
            None
        };
    }
    if F64.contains(&name) {
        return Some("f64");
    }
    if F32.contains(&name) {
        return Some("f32");
    }
    if name.starts_with("libm::") {
        return Some("libm");
    }
    if name.starts_with("wide::") && (name.contains("sqrt") || name.contains("software")) {
        return Some("wide");
    }
    None
}
