// Korean and English labels; data-i18n attributes name them in the markup.
const LABELS = {
  ko: {
    title: "ESS 데이터 플랫폼",
    "nav.sites": "사이트", "nav.explorer": "데이터 탐색", "nav.safety": "안전성",
    "nav.download": "다운로드", "nav.docs": "API 문서", "nav.forecasts": "예측",
    "forecast.target": "예측 대상", "forecast.skill": "모델 평가 (백테스트)", "forecast.chosen": "선택 모델",
    "token.label": "토큰 (원본 데이터)", "token.save": "사용", "token.clear": "삭제",
    "token.set": "토큰 사용 중", "token.none": "토큰 없음: 비식별 데이터만",
    "lang.other": "English",
    loading: "불러오는 중…", load: "불러오기", none: "없음",
    site: "사이트", component: "구성요소", bank: "뱅크", rack: "랙", fields: "필드",
    start: "시작 (현지 시각)", end: "끝 (현지 시각)", day: "날짜 (현지)", window: "기간",
    presets: "빠른 선택", "preset.1h": "1시간", "preset.1d": "1일", "preset.7d": "7일",
    "preset.30d": "30일", "preset.all": "전체",
    "comp.bank": "뱅크", "comp.rack": "랙", "comp.pcs": "PCS", "comp.etc": "환경/계량",
    "sites.topology": "구성", "sites.range": "저장 기간", "sites.first": "처음", "sites.last": "마지막",
    "sites.completeness": "최근 완전성", "sites.latest": "최근 SoC / SoS",
    "sites.needs_token": "완전성, SoC, SoS는 원본 데이터 토큰이 필요합니다.",
    "sites.racks": "랙", "sites.banks": "뱅크", "sites.timezone": "시간대",
    resolution: "해상도", "res.raw": "원본 행", "res.1 minute": "1분 집계", "res.1 hour": "1시간 집계",
    "res.1 day": "1일 집계", points: "점", "explorer.zoom": "차트를 드래그하면 확대하여 더 세밀한 데이터를 불러옵니다.",
    "table.prev": "이전", "table.next": "다음", "table.page": "쪽", time: "시각",
    "safety.sos": "SoS 히트맵 (랙 × 시간)", "safety.exsos": "ExSoS 히트맵 (랙 × 시간)",
    "safety.protection": "보호 맵 이벤트", "safety.counts": "레벨별 건수",
    "safety.socp": "SoCP 취약 셀", "safety.sol": "SoL (수명 예측)", "safety.level": "레벨",
    "safety.from": "시작", "safety.to": "끝", "safety.description": "설명", "safety.count": "건수",
    "safety.weak": "취약 셀", "safety.no_events": "이 기간에 이벤트가 없습니다.",
    "class.safe": "안전", "class.warning": "주의", "class.unsafe": "위험",
    "download.kind": "데이터 종류", "download.raw": "원본 (토큰 필요)", "download.deid": "비식별",
    "download.format": "형식", "download.csv": "CSV", "download.gzip": "CSV, gzip 전송",
    "download.estimate": "예상", "download.rows": "행", "download.size": "크기",
    "download.start": "다운로드", "download.check": "예상 크기 확인",
    "download.needs_token": "원본 데이터는 토큰이 필요합니다. 위에 토큰을 붙여 넣거나 비식별 데이터를 선택하세요.",
    "download.started": "다운로드를 시작했습니다.", "download.all": "모두",
    "error": "오류",
  },
  en: {
    title: "ESS data platform",
    "nav.sites": "Sites", "nav.explorer": "Explorer", "nav.safety": "Safety",
    "nav.download": "Download", "nav.docs": "API docs", "nav.forecasts": "Forecasts",
    "forecast.target": "Target", "forecast.skill": "Model evaluation (backtest)", "forecast.chosen": "chosen model",
    "token.label": "Token (raw data)", "token.save": "Use", "token.clear": "Forget",
    "token.set": "token in use", "token.none": "no token: de-identified data only",
    "lang.other": "한국어",
    loading: "Loading…", load: "Load", none: "none",
    site: "Site", component: "Component", bank: "Bank", rack: "Rack", fields: "Fields",
    start: "Start (local time)", end: "End (local time)", day: "Day (local)", window: "Window",
    presets: "Presets", "preset.1h": "1 hour", "preset.1d": "1 day", "preset.7d": "7 days",
    "preset.30d": "30 days", "preset.all": "All",
    "comp.bank": "Bank", "comp.rack": "Rack", "comp.pcs": "PCS", "comp.etc": "Environment/meters",
    "sites.topology": "Topology", "sites.range": "Stored range", "sites.first": "first", "sites.last": "last",
    "sites.completeness": "Recent completeness", "sites.latest": "Latest SoC / SoS",
    "sites.needs_token": "Completeness, SoC and SoS need a raw-data token.",
    "sites.racks": "racks", "sites.banks": "banks", "sites.timezone": "Time zone",
    resolution: "Resolution", "res.raw": "raw rows", "res.1 minute": "1-minute aggregates",
    "res.1 hour": "1-hour aggregates", "res.1 day": "1-day aggregates", points: "points",
    "explorer.zoom": "Drag on the chart to zoom in and load finer data.",
    "table.prev": "Previous", "table.next": "Next", "table.page": "page", time: "Time",
    "safety.sos": "SoS heat map (rack × time)", "safety.exsos": "ExSoS heat map (rack × time)",
    "safety.protection": "Protection-map episodes", "safety.counts": "Counts per level",
    "safety.socp": "SoCP weak cells", "safety.sol": "SoL (life forecast)", "safety.level": "Level",
    "safety.from": "From", "safety.to": "To", "safety.description": "Description", "safety.count": "Count",
    "safety.weak": "Weak cells", "safety.no_events": "No episode in this window.",
    "class.safe": "safe", "class.warning": "warning", "class.unsafe": "unsafe",
    "download.kind": "Data", "download.raw": "raw (needs a token)", "download.deid": "de-identified",
    "download.format": "Format", "download.csv": "CSV", "download.gzip": "CSV, gzip in transit",
    "download.estimate": "Expected", "download.rows": "rows", "download.size": "size",
    "download.start": "Download", "download.check": "Check expected size",
    "download.needs_token": "Raw data needs a token: paste one above, or choose de-identified data.",
    "download.started": "Download started.", "download.all": "all",
    "error": "Error",
  },
};

let language = sessionStorage.getItem("ess.lang") || "ko";

export function t(key) {
  return LABELS[language][key] ?? LABELS.en[key] ?? key;
}

export function currentLanguage() {
  return language;
}

export function applyLabels(root = document) {
  document.documentElement.lang = language;
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}

export function toggleLanguage() {
  language = language === "ko" ? "en" : "ko";
  sessionStorage.setItem("ess.lang", language);
}
