"""The TensorFlow/Keras backend: `TFPreTrainedModel` on Keras 3 with the TensorFlow backend.

Keras 3 chooses its backend once, when first imported; rosetta's TF models need TensorFlow,
so the default is set here, before any module of this package imports keras.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
