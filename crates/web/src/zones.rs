//! Time zones for showing times: the corridor's zones, none of which observes daylight saving
//! time, so a fixed offset each is exact. Chosen per browser with a cookie, by default from
//! the language (Korean: Seoul; otherwise UTC).

use time::{OffsetDateTime, UtcOffset};

/// (IANA name, offset hours, offset minutes).
pub const ZONES: &[(&str, i8, i8)] = &[
    ("UTC", 0, 0),
    ("Asia/Seoul", 9, 0),
    ("Asia/Shanghai", 8, 0),
    ("Asia/Ulaanbaatar", 8, 0),
    ("Asia/Bangkok", 7, 0),
    ("Asia/Vientiane", 7, 0),
    ("Asia/Ho_Chi_Minh", 7, 0),
    ("Asia/Phnom_Penh", 7, 0),
    ("Asia/Yangon", 6, 30),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(usize);

impl Zone {
    pub const UTC: Zone = Zone(0);
    pub const SEOUL: Zone = Zone(1);

    pub fn from_name(name: &str) -> Option<Zone> {
        ZONES
            .iter()
            .position(|(zone, _, _)| *zone == name)
            .map(Zone)
    }

    pub fn name(self) -> &'static str {
        ZONES[self.0].0
    }

    pub fn offset(self) -> UtcOffset {
        let (_, hours, minutes) = ZONES[self.0];
        UtcOffset::from_hms(hours, minutes, 0).unwrap_or(UtcOffset::UTC)
    }

    /// `at` on this zone's clock.
    pub fn local(self, at: OffsetDateTime) -> OffsetDateTime {
        at.to_offset(self.offset())
    }

    /// "2026-11-29 18:04 +09:00".
    pub fn show(self, at: OffsetDateTime) -> String {
        let local = at.to_offset(self.offset());
        let offset = self.offset();
        format!(
            "{} {:02}:{:02} {}{:02}:{:02}",
            local.date(),
            local.hour(),
            local.minute(),
            if offset.is_negative() { '-' } else { '+' },
            offset.whole_hours().abs(),
            offset.minutes_past_hour().abs()
        )
    }

    /// An RFC 3339 time as stored (the access log), shown in this zone; unparsable text as is.
    pub fn show_text(self, rfc3339: &str) -> String {
        OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
            .map_or_else(|_| rfc3339.to_string(), |at| self.show(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_shown_in_the_chosen_zone() {
        let at = datetime!(2026-11-29 23:30 UTC);
        assert_eq!(Zone::UTC.show(at), "2026-11-29 23:30 +00:00");
        assert_eq!(Zone::SEOUL.show(at), "2026-11-30 08:30 +09:00");
        let yangon = Zone::from_name("Asia/Yangon").unwrap();
        assert_eq!(yangon.show(at), "2026-11-30 06:00 +06:30");
        assert_eq!(
            Zone::from_name("Asia/Bangkok")
                .unwrap()
                .show_text("2026-11-29T23:30:00Z"),
            "2026-11-30 06:30 +07:00"
        );
        assert_eq!(Zone::from_name("Europe/Nowhere"), None);
    }
}
