"""The Evaluation library: rank learners, summarise their hyper-parameters, reduce the space.

The steps follow the paper: get_top_k_ids -> get_hyper_parameters ->
coalesce_hyper_parameters -> reduce_search_space, with visualise_hp_distribution for the
histograms and analyse to run every step at once. Every function reads a pymongo Database
holding the model's canonical documents and uses only find, aggregate ($match, $project,
$sort, $group) and count_documents.
"""

from ._analyse import Analysis, analyse, render_analysis, render_top_k
from ._coalesce import (
    CategoricalSummary,
    CoalescedHyperParameters,
    coalesce_hyper_parameters,
    get_hyper_parameters,
    get_learner_ids,
    hidden_nodes_number,
)
from ._distribution import HpDistribution, visualise_hp_distribution
from ._reduce import (
    MEDIAN_STD,
    MIN_MAX,
    MOST_FREQUENT,
    NOT_IN_STATS,
    ONE_VALUE,
    TOO_FEW,
    UNIFORM_THRESHOLD,
    ReducedBound,
    ReducedSearchSpace,
    reduce_search_space,
    uniformity_p_value,
)
from ._top_k import LOWER_IS_BETTER, KCount, TopKEntry, get_top_k_ids

__all__ = [
    "LOWER_IS_BETTER",
    "MEDIAN_STD",
    "MIN_MAX",
    "MOST_FREQUENT",
    "NOT_IN_STATS",
    "ONE_VALUE",
    "TOO_FEW",
    "UNIFORM_THRESHOLD",
    "Analysis",
    "CategoricalSummary",
    "CoalescedHyperParameters",
    "HpDistribution",
    "KCount",
    "ReducedBound",
    "ReducedSearchSpace",
    "TopKEntry",
    "analyse",
    "coalesce_hyper_parameters",
    "get_hyper_parameters",
    "get_learner_ids",
    "get_top_k_ids",
    "hidden_nodes_number",
    "reduce_search_space",
    "render_analysis",
    "render_top_k",
    "uniformity_p_value",
    "visualise_hp_distribution",
]
