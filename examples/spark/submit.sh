#!/bin/sh
# usage: sh submit.sh ARCHIVE [N]
#
# Runs job.py on Spark with the executors' Python taken from ARCHIVE (made by pkg create):
# Spark unpacks it as ./environment in each executor's directory; no conda-unpack is needed.
# In client mode (the default) the driver runs here: spark.pyspark.python would be the
# driver's python too ("Cannot run program ./environment/bin/python"), so the driver gets a
# local python3 of the same minor version as the archive's, with pyspark installed.
#
#   cp ../job/params.yaml . && sh submit.sh "$PWD/../job/env.tar.gz"
#
# SPARK_MASTER defaults to a local test cluster of two executor JVMs; DRIVER_PYTHON to python3.
# Executors work in $SPARK_HOME/work: when SPARK_HOME is not set (pyspark from pip, whose
# SPARK_HOME would be its package directory in your venv), Spark runs from a SPARK_HOME of
# links to that package in ${SPARK_WORK_HOME:-./spark-home}, so the work directories (the
# unpacked archives, hundreds of MB) land there, not in the venv.
set -eu
archive=$1
shift
if [ -z "${SPARK_HOME:-}" ]; then
    pyspark=$("${DRIVER_PYTHON:-python3}" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
    SPARK_HOME=${SPARK_WORK_HOME:-$PWD/spark-home}
    mkdir -p "$SPARK_HOME"
    for name in bin jars python sbin; do
        [ -e "$SPARK_HOME/$name" ] || ln -s "$pyspark/$name" "$SPARK_HOME/$name"
    done
    export SPARK_HOME
fi
exec spark-submit \
    --master "${SPARK_MASTER:-local-cluster[2,1,1024]}" \
    --archives "$archive#environment" \
    --conf spark.pyspark.python=./environment/bin/python \
    --conf spark.pyspark.driver.python="${DRIVER_PYTHON:-python3}" \
    "$(dirname "$0")/job.py" "$@"
