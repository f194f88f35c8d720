"""Plain-language names and descriptions of the seven HAM10000 diagnoses (shipped in metadata.json)."""
from __future__ import annotations

CLASS_INFO: dict[str, dict[str, str]] = {
    "akiec": {
        "name": "Actinic keratosis / intraepithelial carcinoma (Bowen's disease)",
        "description": "Rough, scaly sun-damage patch that can turn into squamous cell skin cancer; usually treated.",
        "risk": "malignant",
    },
    "bcc": {
        "name": "Basal cell carcinoma",
        "description": "The most common skin cancer: grows slowly and rarely spreads, but needs treatment.",
        "risk": "malignant",
    },
    "bkl": {
        "name": "Benign keratosis-like lesion",
        "description": "Harmless growths such as seborrhoeic keratoses, solar lentigines and lichen-planus-like keratoses.",
        "risk": "benign",
    },
    "df": {
        "name": "Dermatofibroma",
        "description": "A harmless firm bump in the skin, often on the legs, sometimes after a small injury.",
        "risk": "benign",
    },
    "mel": {
        "name": "Melanoma",
        "description": "A dangerous skin cancer arising from pigment cells; early removal is what saves lives.",
        "risk": "malignant",
    },
    "nv": {
        "name": "Melanocytic nevus (mole)",
        "description": "An ordinary mole: a benign cluster of pigment cells. Watch for changes in size, shape or colour.",
        "risk": "benign",
    },
    "vasc": {
        "name": "Vascular lesion",
        "description": "Benign blood-vessel lesions such as cherry angiomas, angiokeratomas and pyogenic granulomas.",
        "risk": "benign",
    },
}

# HAM10000's `localization` values, in the order the lesion history offers them as body sites (a unit test
# checks them against the data set's metadata.csv).
BODY_SITES: tuple[str, ...] = (
    "face", "scalp", "ear", "neck", "chest", "abdomen", "back", "trunk", "upper extremity", "hand",
    "lower extremity", "foot", "acral", "genital", "unknown",
)
