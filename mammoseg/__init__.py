"""mammoseg: reproducible reimplementation of five theses on mammography / CT segmentation and classification.

Importing the package is cheap: TensorFlow is imported only by the modules that need it.
"""
__version__ = "0.1.0"
