# -*- coding: utf-8 -*-
# Legacy exporter, Python 2 era (2014). Still imported by main.py.
import os
import sys

import requests
import simplejson as json
from lxml import etree

ENDPOINT = os.environ.get("LEGACY_ENDPOINT", "http://archive.example.org/ingest")


def to_xml(records, day):
    root = etree.Element("report", day=day)
    for rec in records:
        etree.SubElement(root, "station", **dict((k, unicode(v)) for k, v in rec.iteritems()))
    return etree.tostring(root, pretty_print=True)


def push(records, day):
    body = to_xml(records, day)
    try:
        r = requests.post(ENDPOINT, data=body, headers={"Content-Type": "text/xml"})
        r.raise_for_status()
    except requests.RequestException, e:
        print >>sys.stderr, "push failed:", e
        return False
    print "pushed %d stations for %s" % (len(records), day)
    print json.dumps({"day": day, "count": len(records)})
    return True
