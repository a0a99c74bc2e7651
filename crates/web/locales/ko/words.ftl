# The closed vocabularies, one message per word: `word-{vocabulary}-{word}`, the vocabulary
# named as in refuge-core with dashes for spaces (web/src/i18n.rs `Lang::word`).

word-stage-hiding = 은신
word-stage-transit = 이동 중
word-stage-sheltered = 보호소 대기
word-stage-detained = 구금
word-stage-departed = 출발
word-stage-arrived = 도착
word-stage-repatriated = 송환
word-stage-missing = 실종
word-stage-withdrawn = 중단
word-stage-deceased = 사망
word-stage-merged = 병합됨

word-location-kind-safe_house = 안전가옥
word-location-kind-shelter = 보호소
word-location-kind-detention = 구금 시설
word-location-kind-reception = 접수처
word-location-kind-other = 기타

word-sex-female = 여성
word-sex-male = 남성
word-sex-other = 기타
word-sex-unknown = 미상

word-flag-minor = 미성년자
word-flag-unaccompanied_minor = 보호자 없는 미성년자
word-flag-elderly = 고령자
word-flag-pregnant = 임신
word-flag-disability = 장애
word-flag-chronic_illness = 만성 질환
word-flag-self_harm_risk = 자해 위험
word-flag-medical_urgent = 긴급 의료
word-flag-survivor_of_violence = 폭력 피해 생존자

word-hold-reason-medical = 의료
word-hold-reason-legal = 법률
word-hold-reason-security = 보안
word-hold-reason-family = 가족
word-hold-reason-documents = 서류
word-hold-reason-other = 기타

word-incident-kind-conflict = 갈등
word-incident-kind-self_harm = 자해
word-incident-kind-medical = 의료
word-incident-kind-raid = 단속
word-incident-kind-arrest = 체포
word-incident-kind-abuse = 학대
word-incident-kind-theft = 도난
word-incident-kind-other = 기타

word-wellbeing-well = 양호
word-wellbeing-strained = 지침
word-wellbeing-struggling = 힘들어함
word-wellbeing-crisis = 위기

word-need-medical = 의료
word-need-mental_health = 정신 건강
word-need-food_or_clothing = 음식·의복
word-need-family_contact = 가족 연락
word-need-legal = 법률 도움
word-need-safety = 안전
word-need-other = 기타

word-welfare-check-reason-after_self_harm = 자해 사건 후
word-welfare-check-reason-self_harm_risk = 자해 위험
word-welfare-check-reason-long_wait = 장기 대기

word-incident-status-open = 진행 중
word-incident-status-closed = 종결

word-batch-status-draft = 초안
word-batch-status-confirmed = 확정
word-batch-status-departed = 출발
word-batch-status-completed = 완료
word-batch-status-cancelled = 취소

word-pin-in = 포함 고정
word-pin-out = 제외 고정

word-role-admin = 관리자
word-role-coordinator = 조정자
word-role-caseworker = 사례 담당자
word-role-analyst = 분석가
word-role-auditor = 감사자

word-protected-person-field-name = 이름
word-protected-person-field-name_romanized = 로마자 이름
word-protected-person-field-aliases = 별칭
word-protected-person-field-date_of_birth = 생년월일
word-protected-person-field-origin = 출신지
word-protected-person-field-relatives = 친척
word-protected-person-field-contact = 연락처
word-protected-person-field-notes = 메모

word-access-log-action-init = 조직 생성
word-access-log-action-login = 로그인
word-access-log-action-login_failed = 로그인 실패
word-access-log-action-unlock = 잠금 해제(명령줄)
word-access-log-action-token_used = API 토큰 사용
word-access-log-action-refused = 거부됨
word-access-log-action-user_added = 사용자 추가
word-access-log-action-user_changed = 사용자 변경
word-access-log-action-passphrase_reset = 암호문 재설정
word-access-log-action-recovery_code_made = 복구 코드 생성
word-access-log-action-recovered = 복구 코드로 복구
word-access-log-action-duress_changed = 비상 암호문 변경
word-access-log-action-keys_rotated = 키 교체
word-access-log-action-keys_upgraded = 구획 키로 전환
word-access-log-action-keys_resealed = 키 교체 및 재암호화
word-access-log-action-backup = 백업 생성
word-access-log-action-restored = 백업에서 복원
word-access-log-action-purged = 도착자 신원 파기 (보존 기한)
word-access-log-action-token_created = API 토큰 생성
word-access-log-action-token_revoked = API 토큰 폐기
word-access-log-action-reveal = 봉인 공개
word-access-log-action-export = 내보내기
word-access-log-action-import = 가져오기
word-access-log-action-batch = 이송 배치
word-access-log-action-verify = 검증
word-access-log-action-demo = 데모 데이터
word-access-log-action-setting_changed = 설정 변경

word-action-manage_users = 사용자 관리
word-action-manage_keys = 조직 키 관리
word-action-view_users = 사용자 목록 보기
word-action-manage_locations = 장소 관리
word-action-view_locations = 장소 목록 보기
word-action-register_people = 사람 등록
word-action-view_people = 사람 보기
word-action-reveal_identity = 신원 공개
word-action-search_by_name = 이름으로 찾기
word-action-move_people = 사람 이동
word-action-flag_people = 표시 설정
word-action-hold_people = 보류 설정
word-action-write_notes = 사례 메모 작성
word-action-set_welfare_schedule = 안부 확인 일정 설정
word-action-record_incident = 사건 기록
word-action-view_incidents = 사건 보기
word-action-close_incident = 사건 종결
word-action-view_backlog = 대기 현황 보기
word-action-import = 사람 가져오기
word-action-export = 사람 내보내기
word-action-view_history = 변경 이력 보기
word-action-view_access_log = 접근 기록 보기
word-action-verify = 데이터베이스 검증
word-action-plan_transfers = 이송 계획
word-action-view_batches = 이송 보기
word-action-forecast = 예측 실행
word-action-purge = 도착한 사람의 신원 파기
word-action-exchange = 다른 설치본과 꾸러미 교환
word-access-log-action-peer_changed = 교환 상대 또는 장치 변경
