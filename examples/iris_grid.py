"""The classic example: a grid of decision trees on iris, one Cairn run per grid point.

Each run records its hyper-parameters (max_depth by max_leaf_nodes), test-set metrics, the
dataset it trained on, and the fitted model file as an artifact. Run it, then look at the best
runs with:

    cairn runs list --experiment-name iris-grid --order-by "metrics.accuracy DESC"
"""

from __future__ import annotations

import itertools
import pickle
import tempfile
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

import cairn

MAX_DEPTHS = [1, 2, 3, 5, None]
MAX_LEAF_NODES = [2, 4, 8, None]


def main() -> None:
    iris = load_iris(as_frame=True)
    frame = iris.frame
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.3, random_state=7, stratify=iris.target
    )
    dataset = cairn.data.from_pandas(
        frame, source="sklearn.datasets.load_iris", name="iris", targets="target"
    )
    cairn.set_experiment("iris-grid")
    for depth, leaves in itertools.product(MAX_DEPTHS, MAX_LEAF_NODES):
        with cairn.start_run(run_name=f"tree-d{depth}-l{leaves}"):
            params = {"max_depth": depth, "max_leaf_nodes": leaves, "criterion": "gini"}
            cairn.log_params(params)
            cairn.log_input(dataset, context="training")
            model = DecisionTreeClassifier(random_state=0, **params).fit(x_train, y_train)
            predicted = model.predict(x_test)
            cairn.log_metrics(
                {
                    "accuracy": accuracy_score(y_test, predicted),
                    "f1_macro": f1_score(y_test, predicted, average="macro"),
                    "n_leaves": float(model.get_n_leaves()),
                    "depth": float(model.get_depth()),
                }
            )
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.pkl"
                path.write_bytes(pickle.dumps(model))
                cairn.log_artifact(str(path), artifact_path="model")
    runs = cairn.search_runs(experiment_names=["iris-grid"], order_by=["metrics.accuracy DESC"])
    print(
        f"logged {len(MAX_DEPTHS) * len(MAX_LEAF_NODES)} runs; best accuracy "
        f"{runs['metrics.accuracy'].iloc[0]:.3f} ({runs['tags.mlflow.runName'].iloc[0]})"
    )


if __name__ == "__main__":
    main()
