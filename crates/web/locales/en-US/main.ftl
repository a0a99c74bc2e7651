app-name = refuge
nav-dashboard = Dashboard
nav-people = People
nav-locations = Locations
nav-incidents = Incidents
nav-transfers = Transfers
nav-forecast = Forecast
nav-audit = Audit
nav-users = Users
logout = Log out
signed-in-as = Signed in as { $user } ({ $role })
language = 한국어
login-title = Log in
login-user = User name
login-passphrase = Passphrase
login-submit = Log in
login-failed = Wrong user name or passphrase.
dashboard-title = Backlog today
col-location = Location
col-kind = Kind
col-beds = Beds
col-present = Present
col-occupancy = Occupancy
col-waiting = Waiting
col-median = Median days
col-p90 = p90 days
col-max = Longest
col-over = Over { $days } days
col-incidents = Open incidents
alerts-title = Needs action today
alert-over-capacity = { $location } is over capacity: { $present } people in { $capacity } beds.
alert-over-target = { $count } people have waited more than { $days } days.
alert-severe-incident = Open severe incident { $code } at { $location } (severity { $severity }).
alert-urgent-unplanned = { $code } is flagged { $flag } and is on no planned transfer.
alert-more-flagged = … and more people flagged { $flag } with no planned transfer (see People, filtered by that flag).
alert-more = … and { $count } more (see the list).
no-alerts = Nothing needs action.
chart-waits = Days waited by the people waiting now
chart-flow = Arrivals and departures per month
people-title = People
filter = Filter
any = any
search-name = Exact name
waiting-over = Waiting more than (days)
col-code = Code
col-household = Household
col-sex = Sex
col-born = Born
col-stage = Stage
col-since = Since
col-days = Days waiting
chart-waiting = people waiting (median, p10–p90)
chart-inside = { $name }: people inside (median); dashed: beds
yes = yes
no = no
unchanged = (unchanged)
col-action = Action
col-subject = Record
col-detail = Detail
col-country = Country
explain-col-decision = Decision
explain-col-reason = Why
explain-col-pin = Pin
flow-entered = entered care
flow-departed = departed
col-waiting-since = Waiting since
here-since = Here since
not-waiting = not waiting for a transfer
days-waited = { $count ->
    [one] { $count } day
   *[other] { $count } days
}
col-flags = Flags
col-ready = Ready
register = Register a person
person-title = Person { $code }
reveal = Reveal identity (logged)
identity-sealed = Identity sealed: { $fields }
identity-purged = Identity destroyed on { $on } by the retention policy (purge): it can no longer be opened. The facts above stay for reports.
move = Move
to-location = To location
stage = Stage
date = Date
over-capacity = Even if full (recorded)
save = Save
flags-title = Flags
add-flag = Add flag
remove-flag = Remove flag
hold = Put on hold
release = Release hold
reason = Reason
ready-title = Transfer readiness
documents = Documents ready
screening = Screening done
timeline = Timeline
locations-title = Locations
incidents-title = Incidents
record-incident = Record an incident
kind = Kind
severity = Severity
people-codes = People (codes, comma-separated)
note = What happened (sealed)
close = Close
status = Status
open-only = Open only
transfers-title = Transfers
create-batch = Plan a new transfer
seats = Seats
origins = From (codes, comma-separated; empty: all)
destination = To
departs = Departs
manifest = Manifest
confirm = Confirm
unconfirm = Back to draft
depart = Mark departed
complete = Mark arrived
cancel = Cancel
pin-in = Pin in
pin-out = Pin out
pin-clear = Clear pin
replan = Re-plan
explanations = Why each household
download-manifest = Manifest (CSV, codes only)
forecast-title = Forecast
horizon = Horizon (days)
extra-transfer = Extra transfer (date, seats)
arrival-factor = Arrival factor
forecast-not-a-number = { $field }: '{ $typed }' is not a number
forecast-extra-transfer-needs = { $field }: a date (YYYY-MM-DD) and a number of seats above 0
forecast-destination = Destination (country code; empty: everyone)
forecast-for-destination = Only those who may go to { $country } (they want to, or were not asked yet) and the transfers going there; arrivals are taken to wish as those waiting now do.
run = Run
wait-stats = Wait from arrival to departure: mean { $mean }, p50 { $p50 }, p90 { $p90 }, p99 { $p99 } days.
below-target = The backlog falls below { $days } days on { $date }.
stays-above = The backlog stays above { $days } days through the horizon.
audit-title = Access log
audit-from = From
audit-to = To
audit-csv = Download these entries as CSV
audit-changes = Who changed this record, and when
audit-no-changes = No change is recorded.
audit-access = Who looked, and who tried
audit-none = No entry matches.
audit-outside-compartments = outside the compartments
audit-newest = Newest entries
audit-logged-access-log = access log
audit-logged-created = created
audit-logged-database = database
audit-logged-identity = identity
audit-logged-incidents = incidents
audit-logged-locations = locations
audit-logged-names = names
audit-logged-narrative = narrative
audit-logged-narratives = narratives
audit-logged-new-passphrase-from-the-recovery-code = new passphrase from the recovery code
audit-logged-ok = ok
audit-logged-organisation = organisation
audit-logged-people = people
audit-logged-problems-found = problems found
audit-logged-recovery-code = recovery code
users-title = Users
add-user = Add a user
role = Role
passphrase = Passphrase (12 characters or more)
compartments = Locations (codes, comma-separated)
change-user = Change a user (blank fields stay as they are)
user-active = May log in
user-keys-waiting = yes; keys wait for the first login since the key upgrade
time-zone = Time zone
nav-tokens = API tokens
tokens-title = API tokens
tokens-about = An API token lets a program use the JSON API (/api/v1) as you, with your role and locations: send it as "Authorization: Bearer <token>". Keep it like a passphrase; revoke it when the program no longer needs it.
token-create = Create a token
token-label = Label
token-created = Created
token-revoke = Revoke
token-active = active
token-status = Status
token-revoked = Revoked
token-shown-once = Your new token is below. Copy it now: it is shown this once and cannot be shown again.
reset-passphrase = Set passphrase
error-title = Something went wrong
error-code = Error { $code }, operation { $operation } ({ $reason })
error-forbidden-role = The { $role } role may not { $action }.
error-outside-compartment = { $code } is at a location outside your compartments.
error-not-found = no { $what } with code { $code }
error-merged = person { $code } was merged into { $into }
error-purged = person { $code }: their identity was destroyed on { $on } (purge)
error-likely-duplicate = likely registered already (same name and birth year): { $codes }; check, then confirm to register anyway
error-duplicate = { $what } { $value } already exists
error-busy = Too much of this is running right now; try again in a minute.
error-at-capacity = location { $code } has too few free beds: { $present } present, { $capacity } beds, { $arriving } arriving
error-changed-meanwhile = Someone else changed this meanwhile; reload and try again.
kind-of-record-person = person
kind-of-record-household = household
kind-of-record-incident = incident
kind-of-record-location = location
kind-of-record-batch = transfer
kind-of-record-user = user
kind-of-record-token = token
kind-of-record-note = note
forbidden = You are not allowed to do this.
not-found = Not found.
back = Back
method-not-allowed = This address does not take that kind of request. Use the buttons on the page.
too-large = What was sent is too large: a form takes 64 KiB, a bundle upload 64 MiB (import a larger bundle with refuge bundle import FILE).
bad-request = The request is not well formed.
moved-out = { $code } moved to { $location }. That location is outside your compartments, so you no longer see them here.
field-name = Name
field-name_romanized = Name in Latin letters
field-origin = Origin
field-notes = Notes
register-anyway = This is someone else: register anyway
register-compare = Compare first (opens in a new tab, this form stays as typed); if it is the same person, do not register again:
waiting-stages = waiting (sheltered, detained)
people-shown = { $shown } of { $total ->
    [one] { $total } person
   *[other] { $total } people
  }, longest waiting first
people-found = { $count ->
    [one] { $count } person found
   *[other] { $count } people found
  }
next-page = Next page
severity-1 = 1: minor, handled on the spot
severity-2 = 2: needs follow-up by the shelter
severity-3 = 3: serious: tell the coordinator today
severity-4 = 4: critical: someone's life or safety at risk now
who-moves = Who moves
move-household = { $count ->
    [one] the whole household ({ $count } person)
   *[other] the whole household ({ $count } people)
  }
move-person-only = only this person: the household is split, and a split household is left out of transfer plans unless it may split

# Destination wishes (person page, plans).
col-wish = Wants to go
wish-said-on = { $wish } (said on { $on })
wish-not-asked = not asked yet
wish-title = Where they want to go
wish-country = to a country
wish-country-code = Country code (two letters, e.g. KR)
wish-undecided = undecided
wish-stay = does not want to move on
wish-whose = Whose wish
wish-household = { $count ->
    [one] the whole household ({ $count } person)
   *[other] the whole household ({ $count } people)
  }
wish-person-only = only this person
by-destination-title = Waiting by destination
col-seats-planned = Seats planned
by-destination-hint = Seats planned: on draft and confirmed transfers still to leave for that country. Those not asked yet may travel on any transfer.

# What an event changed (web/src/timeline.rs).
change-user-added = user { $name } ({ $role }) added
change-user-changed = role { $role }, { $active ->
    [yes] active
   *[no] deactivated
}
change-location-added = { $code }: { $kind } in { $country }, { $capacity } beds
change-household-added = household created, { $split ->
    [yes] may travel apart
   *[no] travels together
}
change-person-added = registered as { $stage } at { $location }, arrived { $since }
change-person-moved = moved to { $location } as { $stage } on { $at }
change-person-moved-over-capacity = moved to { $location } as { $stage } on { $at } (over capacity)
change-flag-set = flag set: { $flag }
change-flag-cleared = flag cleared: { $flag }
change-hold-set = put on hold: { $reason }
change-hold-released = hold released
change-wish = wants to go: { $wish } (said on { $on })
change-readiness = documents { $documents ->
    [yes] ready
   *[no] not ready
}, screening { $screening ->
    [yes] done
   *[no] not done
}
change-incident-recorded = incident recorded: { $kind }, severity { $severity }, at { $location }
change-incident-closed = incident closed on { $at }
change-person-rehoused = left household { $from } for { $to }
change-person-merged = duplicate record { $duplicate } merged into { $into }
change-household-split = household { $split ->
    [yes] may travel apart
   *[no] travels together
}
change-person-corrected = corrected: { $fields }
change-note-added = case note written
change-note-added-follow-up = case note written, follow up by { $date }
change-follow-up-done = follow-up done on { $at }
change-person-purged = identity destroyed on { $on } (purge of those who arrived before { $arrived_before })
change-narrative-purged = narrative destroyed on { $on } (purge)
change-conflict-kept-shown = conflict settled: the value shown kept
change-conflict-kept-other = conflict settled: the other value kept
change-batch-created = transfer drafted for { $departure }, { $seats } seats, to { $destination }
change-batch-pinned = household { $pin }
change-batch-pin-cleared = household pin cleared
change-batch-planned = { $count ->
    [one] planned: { $count } person
   *[other] planned: { $count } people
}
change-batch-status = transfer now { $status }

# Case notes (pages/person.rs, the dashboard).
notes-title = Case notes
no-notes = No case notes yet.
note-sealed = (sealed: reveal to read)
note-text = New note
note-follow-up = Follow up by (optional)
note-add = Add note
follow-up-by = follow up by { $date }
follow-up-done-on = follow-up done on { $date }
follow-up-mark-done = Follow-up done
alert-follow-up = Follow-up due for { $code } (by { $date }).
alert-more-follow-ups = { $count ->
    [one] … and { $count } more follow-up due.
   *[other] … and { $count } more follow-ups due.
}
alert-check-due = Welfare check due for { $code } at { $location } since { $date } ({ $reason }).
alert-more-checks = { $count ->
    [one] … and { $count } more welfare check due.
   *[other] … and { $count } more welfare checks due.
}

# Welfare checks on the person page (pages/person).
welfare-title = Welfare check
welfare-next = Next check due { $date } ({ $reason }).
welfare-overdue = { $days ->
    [one] Overdue by { $days } day.
   *[other] Overdue by { $days } days.
}
welfare-not-scheduled = No check scheduled: not waiting for a transfer.
welfare-last = Last check-in: { $date }.
welfare-never = No check-in yet.
check-in-wellbeing = How are they?
check-in-needs = What do they need?
check-in-note = What was said (optional, sealed)
check-in-record = Record check-in
note-check-in = Welfare check-in: { $wellbeing }
note-check-in-needs = needs { $needs }
change-check-in = welfare check-in: { $wellbeing }
change-check-in-follow-up = welfare check-in: { $wellbeing }, follow up by { $date }
col-checks-due = Checks due

# The plan of a transfer (pages/transfer.rs).
plan-summary = { $filled } of { $offered } seats filled: { $households ->
    [one] { $households } household
   *[other] { $households } households
}, { $people ->
    [one] { $people } person
   *[other] { $people } people
}.
plan-ineligible = { $count ->
    [one] { $count } household is not eligible
   *[other] { $count } households are not eligible
}: { $reasons }.
plan-count-not-waiting = { $count } not yet sheltered or detained
plan-count-on-hold = { $count } on hold
plan-count-not-ready = { $count } not ready (documents or screening)
plan-count-on-batch = { $count } already on another transfer
plan-count-apart = { $count } with members at different places
plan-count-wants-elsewhere = { $count } wanting another destination or undecided
plan-not-chosen = { $count ->
    [one] { $count } eligible household is not chosen: others rank higher, or there is no room.
   *[other] { $count } eligible households are not chosen: others rank higher, or there is no room.
}
plan-proven = This choice is proven the best possible.
plan-gap = The best choice found: within { $percent } % of the best possible.
plan-decision-selected = chosen
plan-decision-ineligible = not eligible
plan-decision-not-selected = not chosen
why-chosen = on { $batch }, priority { $priority }
why-chosen-pinned = on { $batch }, priority { $priority } (pinned)
why-pinned-out = pinned out by the coordinator
why-no-pickup = no transfer picks up from { $origin }
why-too-large = { $size } people do not fit on any transfer from { $origin }
why-outranked = priority { $priority }, needs { $size ->
    [one] { $size } seat
   *[other] { $size } seats
}
why-room = { $batch }: { $spare } of { $seats } seats left, lowest chosen priority { $cutoff }
why-room-empty = { $batch }: { $spare } seats left
why-room-share = { $batch }: { $spare } seats left, but this place's share is used up
why-not-placed = not placed
blocker-not-waiting = { $person } is { $stage } (not yet sheltered or detained)
blocker-on-hold = { $person } is on hold ({ $reason })
blocker-not-ready = { $person } is not transfer-ready (documents and screening)
blocker-on-batch = { $person } is on transfer { $batch }
blocker-apart = members are at different places
blocker-wants-elsewhere = { $person } wants to go to { $wish }; this transfer goes to { $destination }
blocker-wish = { $person }: { $wish }

# One incident (pages/incident.rs) and a person's incidents.
incident-title = Incident { $code }
incident-occurred = Happened on
incident-closed-on = Closed on
incident-narrative = What happened
reveal-narrative = Reveal what happened (logged)
person-incidents = Incidents
no-incidents = No incidents.
correct-title = Correct the record
correct-hint = Only what you change is written; the old values stay sealed in the history.
correct-save = Save the correction
household-title = Household
household-join = Move to household (empty: a household of their own)
household-move = Change household
household-may-split = This household may travel on different transfers
merge-title = Duplicate record
merge-likely = Likely the same person (same name and birth year):
merge-into = This record is a duplicate of
merge-hint = The record named here is kept; this one is merged into it: its flags, readiness and earlier waiting start go to the kept record, its history, notes and incidents are shown there, and its code leads there. Its identity stays sealed in its own record: reveal both first and correct the kept one with anything only this one has. A merge cannot be undone.
merge-confirm = I have checked that both records are the same person
merge = Merge into that record
merged-from = Merged records
saved-change = Saved.
incident-show-residents = Show who is there
incident-at = The people listed below are at { $location }
incident-date = Day it happened
incident-time = Time it happened (on the clock there)
incident-residents = { $count ->
    [one] { $count } person there: tick who was involved
   *[other] { $count } people there: tick who was involved
}
incident-no-residents = No one is registered there.
incident-residents-cut = Only the first 300 are listed (longest waiting first): type other codes below.
people-codes-other = Others involved (codes, comma-separated)
incident-record = Record the incident
saved-incident = Recorded.
incident-ticked = { $count ->
    [one] { $count } ticked
   *[other] { $count } ticked
}

nav-account = Account
account-title = Your account
account-about = Your passphrase is what lets you open the organisation's records. Each change below needs your current passphrase, and logs you out: log in again afterwards.
account-passphrase = Change your passphrase
account-current = Current passphrase
account-new = New passphrase (12 characters or more)
account-again = The same again
account-change = Change passphrase
account-duress = Duress passphrase
account-duress-about = If you are ever forced to log in, type your duress passphrase instead of your passphrase. refuge looks as if it logged in as usual, but first it erases everything this organisation keeps in this database, for every user: all records; every colleague's access (they are logged out, and their passphrases no longer open anything here); and your own passphrase. What is left is an empty organisation, which your duress passphrase then opens. This cannot be undone here: the organisation can be brought back only from a backup, with the recovery code. Copies made before (a backup, a copy of the disk) are not erased. refuge does not show whether a duress passphrase is set; not even refuge can tell.
account-duress-new = Duress passphrase (12 characters or more, different from your passphrase)
account-duress-set = Set duress passphrase
account-duress-remove = Remove duress passphrase
login-changed-passphrase = Your passphrase was changed. Log in with the new one.
login-duress-set = Your duress passphrase is set. Log in with your usual passphrase.
login-duress-removed = You have no duress passphrase now. Log in with your usual passphrase.
token-label-theirs = (only its owner reads it)
locations-reveal = Show names and addresses
col-location-name = Name
col-location-address = Address

# Exchange with other installations (docs/exchange.md).
nav-exchange = Exchange
exchange-title = Exchange
exchange-about = Other installations (shelters, the groups that move people, the liaison office) receive records as sealed, signed bundles: written here for one peer and downloaded, carried any way a file can, and checked and merged here when one comes back. The command line does the same: refuge bundle export, refuge bundle import.
exchange-fingerprint = This installation's fingerprint (compare it aloud with a peer before the first bundle):
exchange-peers = Peers
exchange-no-peers = No peers yet: add one with refuge peer add NAME --key KEY.
bundle-export-title = Write a bundle
bundle-export-about = The selected people travel with their whole households; a location sends everyone there, a transfer batch everyone on its manifest. Without identities the peer gets codes and operational fields only. Every bundle written is in the access log.
bundle-to = For
bundle-people = People (codes, comma-separated)
bundle-households = Households (codes, comma-separated)
bundle-locations = Everyone at (location codes, comma-separated)
bundle-batches = Everyone on the transfer batches (batch codes, comma-separated)
bundle-since = Only events from (blank: everything)
bundle-expires-in = Refused after (days)
bundle-reveal = With identities (the peer can read names)
bundle-export = Write and download
bundle-import-title = Check or merge a received bundle
bundle-file = Bundle file
bundle-dry-run = Check only (nothing is written); untick to merge
bundle-import = Upload
bundle-merged = The bundle was checked and merged.
bundle-checked = The bundle passed every check and was merged in memory only: nothing was written. Upload it again with "check only" unticked to merge it.
bundle-report-from = Bundle { $sequence } from { $sender } ({ $fingerprint }), written { $created }, refused after { $expires }.
bundle-report-events = { $events } events: { $new } new, { $known } already here; new records: { $people } people, { $households } households, { $locations } locations.
bundle-report-local-code = { $code } is taken here by another record: shown as { $local }.
bundle-report-conflicts = Conflicts: { $conflicts } ({ $new } new), listed below.
bundle-report-identities = { $count ->
    [one] One identity sealed to this installation's compartments.
   *[other] { $count } identities sealed to this installation's compartments.
}
peer-name = Name
peer-fingerprint = Fingerprint
peer-added = Added
peer-status = Status
peer-active = active
peer-removed-on = removed on { $on }
peer-sent = Last bundle sent
peer-received = Last bundle read
conflict-count = { $count ->
    [0] No conflicts
    [one] One conflict
   *[other] { $count } conflicts
}
conflicts-about = Two installations changed the same thing without knowing of each other, or a change does not fit what came before it. Every installation shows the same value; the other is listed here until someone settles it.
conflict-record = Record
conflict-field = What
conflict-shown = Shown
conflict-other = Not shown
conflict-here = here
conflict-not-applied = not applied: it contradicts what came before
conflict-field-place = where they are
conflict-field-flag = flag
conflict-field-hold = hold
conflict-field-readiness = readiness
conflict-field-wish = wish
conflict-field-identity = identity
conflict-field-split = household split
conflict-field-contradiction = contradiction
conflict-settle = Settle
conflict-keep-shown = Keep shown
conflict-keep-other = Keep the other
conflict-settled-shown = Settled: the value shown stays. Installations that receive this settle it too.
conflict-settled-other = Settled: the other value is shown from now on. Installations that receive this settle it too.
alert-conflicts = { $count ->
    [one] One conflict from merged bundles to settle (Exchange)
   *[other] { $count } conflicts from merged bundles to settle (Exchange)
}
person-conflicts = { $count ->
    [one] One conflict from merged bundles about this person: the value shown and the other one are on the exchange page.
   *[other] { $count } conflicts from merged bundles about this person: the values shown and the others are on the exchange page.
}
