"""A type of its own and the pkg call packager for it (entry point ``pkgtool.packagers``)."""


class Temperature:
    """A temperature in kelvin; files hold ``<kelvin> K``."""

    def __init__(self, kelvin: float) -> None:
        self.kelvin = kelvin


class TemperaturePackager:
    name = "temperature"
    types = ("temperature.Temperature",)
    formats = ("temp",)
    kind = "reading"

    def unpack(self, value, annotation):
        with open(value, encoding="utf-8") as fh:
            number, unit = fh.read().split()
        if unit != "K":
            raise ValueError(f"{value!r} is not in kelvin")
        return Temperature(float(number))

    def pack(self, obj, path, options):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"{obj.kelvin:.{int(options.get('digits', '2'))}f} K\n")
