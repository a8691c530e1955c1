from .reader_factory import create_reader
