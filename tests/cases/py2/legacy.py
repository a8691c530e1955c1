# A Python 2 script: it does not parse as Python 3, its imports are recovered.
import os, sys
import numpy as np
try:
    import cPickle as pickle
except ImportError, e:
    import pickle
import py2helper

def main(argv):
    from pkgtool_py2_lazy import thing
    print "args: %s" % `argv`
    print >>sys.stderr, np.arange(3)

if __name__ == "__main__":
    main(sys.argv)
