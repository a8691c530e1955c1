_FACTORS = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "km": 1e3}


def to_si(value: float, unit: str) -> float:
    return float(value) * _FACTORS[unit]
