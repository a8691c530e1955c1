import caffe
import numpy as np
