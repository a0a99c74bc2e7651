use super::*;
use time::macros::date;

#[test]
fn dates_that_are_not_iso_are_read_only_in_the_order_given() {
    assert_eq!(sheet_day("2026-06-01", None), Some(date!(2026 - 06 - 01)));
    assert_eq!(sheet_day("01/06/2026", None), None, "never guessed");
    let day_first = Some(DateOrder::DayFirst);
    let month_first = Some(DateOrder::MonthFirst);
    assert_eq!(
        sheet_day("01/06/2026", day_first),
        Some(date!(2026 - 06 - 01))
    );
    assert_eq!(
        sheet_day("1.6.2026", day_first),
        Some(date!(2026 - 06 - 01))
    );
    assert_eq!(
        sheet_day("01/06/2026", month_first),
        Some(date!(2026 - 01 - 06))
    );
    assert_eq!(
        sheet_day("2026-06-01", month_first),
        Some(date!(2026 - 06 - 01))
    );
    for wrong in [
        "31/02/2026",
        "01/13/26",
        "1/6",
        "01/06/2026/1",
        "aa/bb/cccc",
    ] {
        assert_eq!(sheet_day(wrong, day_first), None, "{wrong}");
    }
    assert_eq!(sheet_day("13/01/2026", month_first), None);
    assert!("dmy".parse::<DateOrder>().is_ok() && "ymd".parse::<DateOrder>().is_err());
}
