"""Trains the reference model (same family and parameters as the fixture v1) and pickles it."""
import pickle
import sys

from sklearn.datasets import load_diabetes
from sklearn.ensemble import RandomForestRegressor

X, y = load_diabetes(return_X_y=True, scaled=False)
model = RandomForestRegressor(n_estimators=10, max_depth=2, min_samples_leaf=5, max_features=1.0, random_state=42, n_jobs=1)
model.fit(X, y)
with open(sys.argv[1], "wb") as f:
    pickle.dump({"model": model, "version": "reference-rf-10x2", "features": ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]}, f)
