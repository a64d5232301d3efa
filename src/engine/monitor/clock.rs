//! Local time without libc, for START/STIME: the UTC offset from a TZif file
//! (/etc/localtime) and civil dates from day numbers.

use crate::sys::procscan;

/// The UTC offset (seconds) at time `t` from a TZif file (/etc/localtime): the type
/// of the last transition at or before `t`, or the first type before any. The POSIX
/// TZ footer is not read, so with "slim" zone files the DST state after the last
/// listed transition may be off by an hour.
pub fn tzif_offset(data: &[u8], t: i64) -> Option<i32> {
    let be32 = |at: usize| -> Option<u32> { Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?)) };
    let counts = |at: usize| -> Option<[usize; 6]> {
        if data.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut c = [0usize; 6];
        for (i, v) in c.iter_mut().enumerate() {
            *v = be32(at + 20 + 4 * i)? as usize;
        }
        Some(c) // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    };
    let [isut, isstd, leap, timecnt, typecnt, chars] = counts(0)?;
    let v1_len = timecnt * 5 + typecnt * 6 + chars + leap * 8 + isstd + isut;
    let (base, tsize, timecnt, typecnt) = if data.get(4).is_some_and(|&v| v >= b'2') {
        let c = counts(44 + v1_len)?;
        (44 + v1_len + 44, 8, c[3], c[4])
    } else {
        (44, 4, timecnt, typecnt)
    };
    if typecnt == 0 {
        return None;
    }
    let time_at = |i: usize| -> Option<i64> {
        let at = base + i * tsize;
        Some(if tsize == 8 {
            i64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?)
        } else {
            i64::from(be32(at)? as i32)
        })
    };
    let idx_base = base + timecnt * tsize;
    let mut ty = 0usize;
    for i in 0..timecnt {
        if time_at(i)? > t {
            break;
        }
        ty = *data.get(idx_base + i)? as usize;
    }
    let tt = idx_base + timecnt + ty.min(typecnt - 1) * 6;
    Some(be32(tt)? as i32)
}

/// The host's UTC offset now, from /etc/localtime (0 when there is none: UTC).
pub fn local_utc_offset(now: i64) -> i32 {
    procscan::read_to_vec(c"/etc/localtime", 1 << 20).ok().and_then(|d| tzif_offset(&d, now)).unwrap_or(0)
}

/// Days since 1970-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian.
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_zones() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(19_675), (2023, 11, 14));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        // A hand-made v1 TZif: one transition at t=1000 from UTC to UTC+1.
        let mut z = Vec::new();
        z.extend_from_slice(b"TZif\0");
        z.extend_from_slice(&[0; 15]);
        for n in [0u32, 0, 0, 1, 2, 4] {
            z.extend_from_slice(&n.to_be_bytes());
        }
        z.extend_from_slice(&1000i32.to_be_bytes());
        z.push(1);
        z.extend_from_slice(&0i32.to_be_bytes());
        z.extend_from_slice(&[0, 0]);
        z.extend_from_slice(&3600i32.to_be_bytes());
        z.extend_from_slice(&[1, 0]);
        z.extend_from_slice(b"UTC\0");
        assert_eq!(tzif_offset(&z, 999), Some(0));
        assert_eq!(tzif_offset(&z, 1000), Some(3600));
        assert_eq!(tzif_offset(&z[..30], 0), None);
        assert_eq!(tzif_offset(b"nope", 0), None);
        // The system's zone files (v2+ with 64-bit times).
        if let Ok(berlin) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") {
            assert_eq!(tzif_offset(&berlin, 1_593_561_600), Some(7200)); // 2020-07-01
            assert_eq!(tzif_offset(&berlin, 1_577_836_800), Some(3600)); // 2020-01-01
        }
        if let Ok(ny) = std::fs::read("/usr/share/zoneinfo/America/New_York") {
            assert_eq!(tzif_offset(&ny, 1_593_561_600), Some(-4 * 3600));
        }
        let _ = local_utc_offset(procscan::now());
    }
}
