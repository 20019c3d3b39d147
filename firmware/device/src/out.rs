//! A buffered line writer: hex f32 bits, decimals, names. Flushed at every line end, so that
//! what was printed before a hang or a crash reaches the host.

use crate::board::Port;

pub struct Out {
    port: Port,
    buf: [u8; 256],
    len: usize,
}

impl Out {
    pub fn new(port: Port) -> Out {
        Out {
            port,
            buf: [0; 256],
            len: 0,
        }
    }

    pub fn byte(&mut self, b: u8) {
        if self.len == self.buf.len() {
            self.flush();
        }
        self.buf[self.len] = b;
        self.len += 1;
    }

    pub fn str(&mut self, s: &str) -> &mut Out {
        for &b in s.as_bytes() {
            self.byte(b);
        }
        self
    }

    pub fn hex(&mut self, v: u32) -> &mut Out {
        for i in (0..8).rev() {
            let d = ((v >> (4 * i)) & 0xF) as u8;
            self.byte(if d < 10 { b'0' + d } else { b'a' + d - 10 });
        }
        self
    }

    pub fn dec(&mut self, mut v: u32) -> &mut Out {
        let mut digits = [0u8; 10];
        let mut n = 0;
        loop {
            digits[n] = b'0' + (v % 10) as u8;
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            self.byte(digits[i]);
        }
        self
    }

    /// ` name=hex,hex,...` (f32 bits).
    pub fn values(&mut self, name: &str, v: &[f32]) -> &mut Out {
        self.str(" ").str(name).str("=");
        for (i, x) in v.iter().enumerate() {
            if i > 0 {
                self.byte(b',');
            }
            self.hex(x.to_bits());
        }
        self
    }

    /// ` name=decimal`.
    pub fn field(&mut self, name: &str, v: u32) -> &mut Out {
        self.str(" ").str(name).str("=").dec(v)
    }

    pub fn end(&mut self) {
        self.byte(b'\n');
        self.flush();
    }

    pub fn flush(&mut self) {
        self.port.write(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl core::fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.str(s);
        Ok(())
    }
}
