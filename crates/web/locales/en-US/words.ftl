# The closed vocabularies, one message per word: `word-{vocabulary}-{word}`, the vocabulary
# named as in refuge-core with dashes for spaces (web/src/i18n.rs `Lang::word`).

word-stage-hiding = hiding
word-stage-transit = in transit
word-stage-sheltered = sheltered
word-stage-detained = detained
word-stage-departed = departed
word-stage-arrived = arrived
word-stage-repatriated = repatriated
word-stage-missing = missing
word-stage-withdrawn = withdrawn
word-stage-deceased = deceased
word-stage-merged = merged

word-location-kind-safe_house = safe house
word-location-kind-shelter = shelter
word-location-kind-detention = detention
word-location-kind-reception = reception
word-location-kind-other = other

word-sex-female = female
word-sex-male = male
word-sex-other = other
word-sex-unknown = unknown

word-flag-minor = minor
word-flag-unaccompanied_minor = unaccompanied minor
word-flag-elderly = elderly
word-flag-pregnant = pregnant
word-flag-disability = disability
word-flag-chronic_illness = chronic illness
word-flag-self_harm_risk = self-harm risk
word-flag-medical_urgent = medical urgent
word-flag-survivor_of_violence = survivor of violence

word-hold-reason-medical = medical
word-hold-reason-legal = legal
word-hold-reason-security = security
word-hold-reason-family = family
word-hold-reason-documents = documents
word-hold-reason-other = other

word-incident-kind-conflict = conflict
word-incident-kind-self_harm = self-harm
word-incident-kind-medical = medical
word-incident-kind-raid = raid
word-incident-kind-arrest = arrest
word-incident-kind-abuse = abuse
word-incident-kind-theft = theft
word-incident-kind-other = other

word-wellbeing-well = well
word-wellbeing-strained = strained
word-wellbeing-struggling = struggling
word-wellbeing-crisis = in crisis

word-need-medical = medical care
word-need-mental_health = mental health
word-need-food_or_clothing = food or clothing
word-need-family_contact = family contact
word-need-legal = legal help
word-need-safety = safety
word-need-other = other

word-welfare-check-reason-after_self_harm = after a self-harm incident
word-welfare-check-reason-self_harm_risk = self-harm risk
word-welfare-check-reason-long_wait = long wait

word-incident-status-open = open
word-incident-status-closed = closed

word-batch-status-draft = draft
word-batch-status-confirmed = confirmed
word-batch-status-departed = departed
word-batch-status-completed = completed
word-batch-status-cancelled = cancelled

word-pin-in = pinned in
word-pin-out = pinned out

word-role-admin = admin
word-role-coordinator = coordinator
word-role-caseworker = caseworker
word-role-analyst = analyst
word-role-auditor = auditor

word-protected-person-field-name = name
word-protected-person-field-name_romanized = romanized name
word-protected-person-field-aliases = aliases
word-protected-person-field-date_of_birth = date of birth
word-protected-person-field-origin = origin
word-protected-person-field-relatives = relatives
word-protected-person-field-contact = contact
word-protected-person-field-notes = notes

word-access-log-action-init = organisation created
word-access-log-action-login = login
word-access-log-action-login_failed = failed login
word-access-log-action-unlock = unlocked (command line)
word-access-log-action-token_used = API token used
word-access-log-action-refused = refused
word-access-log-action-user_added = user added
word-access-log-action-user_changed = user changed
word-access-log-action-passphrase_reset = passphrase reset
word-access-log-action-recovery_code_made = recovery code made
word-access-log-action-recovered = recovered with the recovery code
word-access-log-action-duress_changed = duress passphrase changed
word-access-log-action-keys_rotated = keys rotated
word-access-log-action-keys_upgraded = keys upgraded to compartments
word-access-log-action-keys_resealed = keys replaced, values sealed again
word-access-log-action-backup = backup made
word-access-log-action-restored = restored from a backup
word-access-log-action-purged = identities of arrived people destroyed (purge)
word-access-log-action-token_created = API token created
word-access-log-action-token_revoked = API token revoked
word-access-log-action-reveal = sealed values revealed
word-access-log-action-export = export
word-access-log-action-import = import
word-access-log-action-batch = transfer batch
word-access-log-action-verify = verify
word-access-log-action-demo = demo data
word-access-log-action-setting_changed = setting changed

word-action-manage_users = manage users
word-action-manage_keys = manage the organisation's keys
word-action-view_users = list users
word-action-manage_locations = manage locations
word-action-view_locations = list locations
word-action-register_people = register people
word-action-view_people = view people
word-action-reveal_identity = reveal identities
word-action-search_by_name = search by name
word-action-move_people = move people
word-action-flag_people = flag people
word-action-hold_people = put people on hold
word-action-write_notes = write case notes
word-action-set_welfare_schedule = set the welfare check schedule
word-action-record_incident = record incidents
word-action-view_incidents = view incidents
word-action-close_incident = close incidents
word-action-view_backlog = view the backlog
word-action-import = import people
word-action-export = export people
word-action-view_history = view the event history
word-action-view_access_log = view the access log
word-action-verify = verify the database
word-action-plan_transfers = plan transfers
word-action-view_batches = view transfer batches
word-action-forecast = run forecasts
word-action-purge = purge the identities of people who have arrived
word-action-exchange = exchange bundles with other installations
word-access-log-action-peer_changed = exchange peer or device changed
