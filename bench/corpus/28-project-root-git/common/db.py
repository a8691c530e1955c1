import os

from sqlalchemy import MetaData, create_engine

ENGINE = create_engine(os.environ.get("WAREHOUSE_URL", "sqlite:///warehouse.db"), future=True)
META = MetaData()


def table(name):
    META.reflect(ENGINE, only=[name])
    return META.tables[name]
