"""Component ids: a contract that tests and demos script against. Never rename one."""

# controls (their ids are also the URL query keys)
SCENARIO = "scenario"
DATASET = "dataset"
N_SAMPLES = "n-samples"
NOISE = "noise"
ATTACK = "attack"
POISON_RATE = "poison-rate"
DEFENSE = "defense"
# the selected attack's and defense's declared parameters (core.params): rendered from the
# declaration into these containers, each control a pattern id
# {"type": PARAM, "kind": "attack" | "defense", "name": <parameter>} (its URL key is
# "<kind>.<parameter>"); a parameter that also takes a word ("auto") gets a switch
# {"type": PARAM_WORD, ...} with the same keys
ATTACK_PARAMS = "attack-params"
DEFENSE_PARAMS = "defense-params"
PARAM = "param"
PARAM_WORD = "param-word"
MODEL = "model"
KERNEL = "kernel"
C = "c"
GAMMA = "gamma"
DEGREE = "degree"
SEED = "seed"
# your own data: the upload and the columns to use (``data`` holds an upload token)
UPLOAD = "upload"
UPLOAD_INFO = "upload-info"
DATA = "data"
CSV_LABEL = "label"
CSV_FEATURES = "features"
CSV_POSITIVE = "positive"

# stores: the validated config, a background job's request, its answer
CONFIG_STORE = "config-store"
JOB_STORE = "job-store"
BG_RESULT = "bg-result"
# wrappers shown or hidden with the dataset
CSV_FIELDS = "csv-fields"

# graphs
GRAPH_CLEAN = "graph-clean"
GRAPH_POISONED = "graph-poisoned"
GRAPH_DEFENDED = "graph-defended"
GRAPH_SWEEP = "graph-sweep"

# readouts
ACCURACY_CLEAN = "accuracy-clean"
ACCURACY_POISONED = "accuracy-poisoned"
ACCURACY_DEFENDED = "accuracy-defended"
SCORECARD = "scorecard"
RUN_INFO = "run-info"
ERROR = "error"
SCENARIO_STORY = "scenario-story"
PANEL_PROGRESS = "panel-progress"
PANEL_CANCEL = "panel-cancel"

# sweep
SWEEP_MAX_RATE = "sweep-max-rate"
SWEEP_SEEDS = "sweep-seeds"
SWEEP_RUN = "sweep-run"
SWEEP_CANCEL = "sweep-cancel"
SWEEP_PROGRESS = "sweep-progress"
SWEEP_STATUS = "sweep-status"
SWEEP_STORE = "sweep-store"

# sharing
URL = "url"
SHARE_LINK = "share-link"
COPY_LINK = "copy-link"

# exports
EXPORT_TRAINING = "export-training"
EXPORT_JSON = "export-json"
EXPORT_REPORT = "export-report"
EXPORT_PNG = "export-png"
EXPORT_SWEEP = "export-sweep"
EXPORT_MATRIX = "export-matrix"
EXPORT_FILE = "export-file"
EXPORT_INFO = "export-info"

# attack x defense matrix
GRAPH_MATRIX = "graph-matrix"
MATRIX_RUN = "matrix-run"
MATRIX_CANCEL = "matrix-cancel"
MATRIX_SEEDS = "matrix-seeds"
MATRIX_PROGRESS = "matrix-progress"
MATRIX_STATUS = "matrix-status"
MATRIX_STORE = "matrix-store"

# detection curves (on demand)
CURVES_TOGGLE = "curves-toggle"
CURVES_COLLAPSE = "curves-collapse"
GRAPH_CURVES = "graph-curves"

# story mode (/story/): its own Dash app on the same server
STORY_LINK = "story-link"  # on the lab page
STORY_URL = "story-url"
STORY_ROOT = "story-root"
STORY_STEPS = "story-steps"  # the step indicator
STORY_STEP = "story-step"  # pattern id {"type": STORY_STEP, "index": n}: a step pill
STORY_TITLE = "story-title"
STORY_GRAPH = "story-graph"
STORY_NUMBERS = "story-numbers"
STORY_TEXT = "story-text"
STORY_BACK = "story-back"
STORY_NEXT = "story-next"
STORY_PRESENT = "story-present"
STORY_SEED = "story-seed"
STORY_ALERT = "story-alert"
STORY_INFO = "story-info"

# derived ids: the wrapper of a control (its label, hint; hidden together), the progress row
PANEL_PROGRESS_ROW = f"{PANEL_PROGRESS}-row"
TRIGGER_ROW = "trigger-row"  # the backdoor's "trigger present" switch, shown for backdoors
TRIGGER_SWITCH = "trigger-switch"
BACKDOOR_CARD = "backdoor-card"  # digits: test images with and without the trigger
GRAPH_BACKDOOR = "graph-backdoor"


def field(control: str) -> str:
    """The id of the wrapper around control ``control`` (``n-samples-field``)."""
    return f"{control}-field"


def param_field(kind: str, name: str) -> str:
    """The id of the wrapper around a declared parameter's control (``defense-param-k-field``)."""
    return f"{kind}-param-{name}-field"

# the retraining campaign (month by month, three ways side by side)
CAMPAIGN_GATE = "campaign-gate"
CAMPAIGN_VARIANT = "campaign-variant"
CAMPAIGN_RUN = "campaign-run"
CAMPAIGN_CANCEL = "campaign-cancel"
CAMPAIGN_PROGRESS = "campaign-progress"
CAMPAIGN_STATUS = "campaign-status"
CAMPAIGN_STORE = "campaign-store"
GRAPH_CAMPAIGN_TIMELINE = "graph-campaign-timeline"
GRAPH_CAMPAIGN_MONTHS = "graph-campaign-months"
