// ann.cpp: retrace's HNSW against hnswlib and FAISS's IndexHNSWFlat on the same vectors, same M and
// ef_construction, one thread: build time, memory, and queries per second at recall@10 of 0.90, 0.95
// and 0.99 (each library's fastest ef that reaches the target), with ratios; and the outlier column:
// the recall@10 of planted isolated points (pairs of vectors far from every cluster, inserted at
// random points of the stream) for queries near them, at retrace's default ef (64) for both libraries.
// A graph index can lose such a point entirely: pruning leaves it no incoming link (issue 16).
//
// Data: unit vectors of dimension 384 with the structure of text embeddings (a random low-rank
// subspace, cluster centres, noise), so recall is neither trivial nor hopeless. Ground truth is exact
// inner product over all vectors. Usage: bench_ann [--n 100000] [--dim 384] [--nq 1000] [--M 16]
//        [--efc 200] [--seed 1] [--outliers 32] [--no-faiss] [--cpu-time] [--cache DIR]
// --outliers P plants P isolated pairs (0: none) and prints the outlier column.
// --cache DIR (for tuning search): the ground truth and the retrace and hnswlib indexes are saved
// under DIR, and a later run with the same parameters loads each one it finds there instead of
// building it (a loaded index's build time and memory are not measured and print as 0).
#include <faiss/IndexHNSW.h>
#include <hnswlib/hnswlib.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

extern "C" {
#include "retrace.h"
}

namespace {

struct Config {
    int n = 100000, dim = 384, nq = 1000, M = 16, efc = 200, k = 10, outliers = 32;
    uint64_t seed = 1;
    bool faiss = true; // --no-faiss: FAISS's build takes 5x longer; skip it for large n
    std::string cache; // --cache DIR
    bool cpu_time = false; // --cpu-time: QPS from this thread's CPU time instead of wall time
};

// This thread's CPU time in seconds: on a loaded machine it leaves out the time other processes held
// the core (cache and memory-bandwidth contention still show).
double thread_cpu_s() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// The cache file for `what`, named by every parameter that shapes it; "" without --cache.
std::string cache_path(const Config &c, const char *what) {
    if (c.cache.empty()) return "";
    char buf[256];
    snprintf(buf, sizeof buf, "/%s-n%d-d%d-q%d-M%d-efc%d-s%llu-o%d.bin", what, c.n, c.dim, c.nq, c.M, c.efc,
             (unsigned long long)c.seed, c.outliers);
    return c.cache + buf;
}

// Anonymous memory backed by transparent huge pages, in MB (from /proc/self/smaps_rollup).
double huge_mb() {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb / 1024.0;
}

// Where the outlier column is read: retrace's default ef_search, the same for every library (hnswlib's
// own default is 10).
const int OUTLIER_EF = 64;
const int EFS[] = {10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768};
const double TARGETS[] = {0.90, 0.95, 0.99};
const int LATENT_DIM = 128, N_CLUSTERS = 256;
const float NOISE = 0.4f;

double rss_mb() {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

// x = normalise(A (c + 0.5 z) + NOISE e): points near a 128-dimensional subspace, in clusters.
std::vector<float> make_vectors(int n, const Config &c, uint64_t stream) {
    rt_rng r;
    rt_rng_seed(&r, c.seed);
    std::vector<float> A((size_t)c.dim * LATENT_DIM), centres((size_t)N_CLUSTERS * LATENT_DIM);
    for (auto &a : A) a = rt_rng_normal(&r) / std::sqrt((float)LATENT_DIM);
    for (auto &x : centres) x = rt_rng_normal(&r);
    rt_rng_seed(&r, c.seed * 1000003 + stream);
    std::vector<float> out((size_t)n * c.dim), z(LATENT_DIM);
    for (int i = 0; i < n; i++) {
        const float *cen = &centres[(size_t)rt_rng_below(&r, N_CLUSTERS) * LATENT_DIM];
        for (int j = 0; j < LATENT_DIM; j++) z[j] = cen[j] + 0.5f * rt_rng_normal(&r);
        float *x = &out[(size_t)i * c.dim];
        double n2 = 0;
        for (int d = 0; d < c.dim; d++) {
            float s = NOISE * rt_rng_normal(&r);
            for (int j = 0; j < LATENT_DIM; j++) s += A[(size_t)d * LATENT_DIM + j] * z[j];
            x[d] = s;
            n2 += (double)s * s;
        }
        float inv = (float)(1.0 / std::sqrt(n2));
        for (int d = 0; d < c.dim; d++) x[d] *= inv;
    }
    return out;
}

// Planted isolated pairs: pair p is two unit vectors near a random direction u_p of the whole space
// (so far from the 128-dimensional subspace the data lives near: cosine about 0.05 to the rest) and
// about 0.7 to each other; its query is a third point near u_p. They overwrite base vectors at random
// positions (their labels), so they are inserted at random points of the stream.
struct Outliers {
    std::vector<int64_t> labels; // 2 per pair
    std::vector<float> queries;  // one per pair
};

Outliers plant_outliers(std::vector<float> &base, const Config &c) {
    Outliers o;
    rt_rng r;
    rt_rng_seed(&r, c.seed * 7777 + 3);
    std::vector<float> u(c.dim), x(c.dim);
    const float spread = 0.6f / std::sqrt((float)c.dim); // noise of norm about 0.6 around u
    auto near_u = [&](float *out) {
        double n2 = 0;
        for (int d = 0; d < c.dim; d++) out[d] = u[d] + spread * rt_rng_normal(&r), n2 += (double)out[d] * out[d];
        for (int d = 0; d < c.dim; d++) out[d] = (float)(out[d] / std::sqrt(n2));
    };
    for (int p = 0; p < c.outliers; p++) {
        double n2 = 0;
        for (int d = 0; d < c.dim; d++) u[d] = rt_rng_normal(&r), n2 += (double)u[d] * u[d];
        for (int d = 0; d < c.dim; d++) u[d] = (float)(u[d] / std::sqrt(n2));
        for (int j = 0; j < 2; j++) {
            int64_t at;
            do at = (int64_t)rt_rng_below(&r, (uint64_t)c.n);
            while (std::find(o.labels.begin(), o.labels.end(), at) != o.labels.end());
            if (!base.empty()) near_u(&base[(size_t)at * c.dim]);
            else near_u(x.data()); // base not needed (cached): keep the RNG stream the same
            o.labels.push_back(at);
        }
        near_u(x.data());
        o.queries.insert(o.queries.end(), x.begin(), x.end());
    }
    return o;
}

// How many pairs are exactly their query's two nearest (brute force): the column assumes all of them.
int pairs_nearest(const std::vector<float> &base, const Outliers &o, const Config &c) {
    int ok = 0;
    for (int p = 0; p < c.outliers; p++) {
        const float *q = &o.queries[(size_t)p * c.dim];
        float lo = std::min(rt_dot(q, &base[(size_t)o.labels[2 * p] * c.dim], c.dim), rt_dot(q, &base[(size_t)o.labels[2 * p + 1] * c.dim], c.dim));
        int closer = 0;
        for (int j = 0; j < c.n; j++) closer += rt_dot(q, &base[(size_t)j * c.dim], c.dim) >= lo;
        ok += closer == 2;
    }
    return ok;
}

// Exact top-k by inner product (blocked brute force, all threads: it is not what is measured).
std::vector<int64_t> ground_truth(const std::vector<float> &base, const std::vector<float> &q, const Config &c) {
    std::vector<int64_t> gt((size_t)c.nq * c.k);
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < c.nq; i++) {
        std::vector<std::pair<float, int64_t>> best;
        best.reserve(c.k + 1);
        for (int j = 0; j < c.n; j++) {
            float s = rt_dot(&q[(size_t)i * c.dim], &base[(size_t)j * c.dim], c.dim);
            if ((int)best.size() < c.k || s > best.back().first) {
                best.insert(std::upper_bound(best.begin(), best.end(), std::make_pair(s, (int64_t)j),
                                             [](auto &a, auto &b) { return a.first > b.first; }),
                            {s, (int64_t)j});
                if ((int)best.size() > c.k) best.pop_back();
            }
        }
        for (int t = 0; t < c.k; t++) gt[(size_t)i * c.k + t] = best[t].second;
    }
    return gt;
}

struct Point {
    int ef;
    double recall, qps;
};

struct Result {
    std::string name;
    double build_s = 0, mem_mb = 0, outlier_recall = -1;
    std::vector<Point> curve;
};

double recall_of(const std::vector<int64_t> &got, const std::vector<int64_t> &gt, const Config &c) {
    int hit = 0;
    for (int i = 0; i < c.nq; i++)
        for (int a = 0; a < c.k; a++)
            for (int b = 0; b < c.k; b++)
                if (got[(size_t)i * c.k + a] == gt[(size_t)i * c.k + b]) {
                    hit++;
                    break;
                }
    return (double)hit / ((double)c.nq * c.k);
}

// search(ef, queries, nq, out): the top k labels of each query into out[nq * k].
using SearchFn = std::function<void(int, const float *, int, std::vector<int64_t> &)>;

// The machine is shared, so each point is the best of REPEATS timed passes (the least disturbed),
// and the libraries take turns at every ef so all of them see the same background load.
const int REPEATS = 5;
const double MIN_PASS_S = 0.25;

double timed_qps(const SearchFn &search, int ef, const std::vector<float> &q, std::vector<int64_t> &got, const Config &c) {
    int passes = 0;
    double (*clock)(void) = c.cpu_time ? thread_cpu_s : rt_now;
    double t0 = clock(), t;
    do {
        search(ef, q.data(), c.nq, got);
        passes++;
        t = clock() - t0;
    } while (t < MIN_PASS_S);
    return (double)c.nq * passes / t;
}

void sweep_all(std::vector<Result> &rs, const std::vector<SearchFn> &fns, const std::vector<float> &q, const std::vector<int64_t> &gt,
               const Config &c) {
    std::vector<int64_t> got((size_t)c.nq * c.k);
    std::vector<int> done(rs.size(), 0);
    for (int ef : EFS) {
        if (ef < c.k) continue;
        std::vector<double> best(rs.size(), 0.0), rec(rs.size(), 0.0);
        for (size_t i = 0; i < rs.size(); i++) {
            if (done[i]) continue;
            fns[i](ef, q.data(), c.nq, got); // warm-up, and the recall
            rec[i] = recall_of(got, gt, c);
        }
        for (int rep = 0; rep < REPEATS; rep++)
            for (size_t i = 0; i < rs.size(); i++)
                if (!done[i]) best[i] = std::max(best[i], timed_qps(fns[i], ef, q, got, c));
        for (size_t i = 0; i < rs.size(); i++) {
            if (done[i]) continue;
            rs[i].curve.push_back({ef, rec[i], best[i]});
            fprintf(stderr, "  %-8s ef %4d  recall@10 %.4f  %8.0f QPS\n", rs[i].name.c_str(), ef, rec[i], best[i]);
            if (rec[i] >= 0.999) done[i] = 1;
        }
        if (std::all_of(done.begin(), done.end(), [](int d) { return d; })) break;
    }
}

const Point *at_target(const Result &r, double target) {
    const Point *best = nullptr;
    for (auto &p : r.curve)
        if (p.recall >= target && (!best || p.qps > best->qps)) best = &p;
    return best;
}

SearchFn build_retrace(Result &res, const std::vector<float> &base, const Config &c) {
    res.name = "retrace";
    rt_hnsw_params p = rt_hnsw_params_default(c.dim);
    p.metric = RT_METRIC_IP;
    p.M = c.M;
    p.ef_construction = c.efc;
    double m0 = rss_mb(), hp0 = huge_mb(), t0 = rt_now();
    rt_hnsw *h;
    std::string path = cache_path(c, "retrace");
    uint8_t tag[RT_HNSW_TAG_BYTES] = {0};
    if (!path.empty() && rt_path_exists(path.c_str())) {
        if (rt_hnsw_load(path.c_str(), &h, tag) != RT_OK) {
            fprintf(stderr, "%s\n", rt_errmsg());
            exit(1);
        }
        fprintf(stderr, "retrace: loaded %s in %.1f s, %.0f MB in huge pages\n", path.c_str(), rt_now() - t0, huge_mb() - hp0);
    } else {
        if (rt_hnsw_create(&p, &h) != RT_OK || rt_hnsw_reserve(h, c.n) != RT_OK) {
            fprintf(stderr, "%s\n", rt_errmsg());
            exit(1);
        }
        for (int i = 0; i < c.n; i++) rt_hnsw_insert(h, i, &base[(size_t)i * c.dim]);
        res.build_s = rt_now() - t0;
        res.mem_mb = rss_mb() - m0;
        fprintf(stderr, "retrace: built in %.1f s (%s kernels), %.0f MB (%.0f MB in huge pages)\n", res.build_s,
                rt_distance_kernel_name(), res.mem_mb, huge_mb() - hp0);
        if (!path.empty() && rt_hnsw_save(h, path.c_str(), tag) != RT_OK) {
            fprintf(stderr, "%s\n", rt_errmsg());
            exit(1);
        }
    }
    return [h, &c](int ef, const float *q, int nq, std::vector<int64_t> &out) {
        std::vector<rt_hnsw_hit> hits(c.k);
        for (int i = 0; i < nq; i++) {
            int n;
            rt_hnsw_search(h, &q[(size_t)i * c.dim], c.k, ef, nullptr, nullptr, hits.data(), &n);
            for (int j = 0; j < c.k; j++) out[(size_t)i * c.k + j] = j < n ? hits[j].label : -1;
        }
    };
}

SearchFn build_hnswlib(Result &res, const std::vector<float> &base, const Config &c) {
    res.name = "hnswlib";
    double m0 = rss_mb(), t0 = rt_now();
    auto *space = new hnswlib::InnerProductSpace(c.dim);
    std::string path = cache_path(c, "hnswlib");
    hnswlib::HierarchicalNSW<float> *h;
    if (!path.empty() && rt_path_exists(path.c_str())) {
        h = new hnswlib::HierarchicalNSW<float>(space, path, false, c.n);
        fprintf(stderr, "hnswlib: loaded %s in %.1f s\n", path.c_str(), rt_now() - t0);
    } else {
        h = new hnswlib::HierarchicalNSW<float>(space, c.n, c.M, c.efc, c.seed);
        for (int i = 0; i < c.n; i++) h->addPoint(&base[(size_t)i * c.dim], (size_t)i);
        res.build_s = rt_now() - t0;
        res.mem_mb = rss_mb() - m0;
        fprintf(stderr, "hnswlib: built in %.1f s, %.0f MB\n", res.build_s, res.mem_mb);
        if (!path.empty()) h->saveIndex(path);
    }
    return [h, &c](int ef, const float *q, int nq, std::vector<int64_t> &out) {
        h->setEf(ef);
        for (int i = 0; i < nq; i++) {
            auto pq = h->searchKnn(&q[(size_t)i * c.dim], c.k);
            for (int j = (int)pq.size() - 1; j >= 0; j--) {
                out[(size_t)i * c.k + j] = (int64_t)pq.top().second;
                pq.pop();
            }
        }
    };
}

SearchFn build_faiss(Result &res, const std::vector<float> &base, const Config &c) {
    res.name = "faiss";
    double m0 = rss_mb(), t0 = rt_now();
    auto *index = new faiss::IndexHNSWFlat(c.dim, c.M, faiss::METRIC_INNER_PRODUCT);
    index->hnsw.efConstruction = c.efc;
    index->add(c.n, base.data());
    res.build_s = rt_now() - t0;
    res.mem_mb = rss_mb() - m0;
    fprintf(stderr, "faiss:   built in %.1f s, %.0f MB\n", res.build_s, res.mem_mb);
    return [index, &c](int ef, const float *q, int nq, std::vector<int64_t> &out) {
        std::vector<float> dist((size_t)c.k);
        index->hnsw.efSearch = ef;
        // One query per call, as the others do, so per-call overhead is compared too.
        for (int i = 0; i < nq; i++)
            index->search(1, &q[(size_t)i * c.dim], c.k, dist.data(), (faiss::Index::idx_t *)&out[(size_t)i * c.k]);
    };
}

// The outlier column: the fraction of planted points among the top 10 of their pair's query, at ef.
void outlier_recall(std::vector<Result> &rs, const std::vector<SearchFn> &fns, const Outliers &o, int ef, const Config &c) {
    std::vector<int64_t> got((size_t)c.outliers * c.k);
    for (size_t i = 0; i < rs.size(); i++) {
        fns[i](ef, o.queries.data(), c.outliers, got);
        int found = 0;
        for (int p = 0; p < c.outliers; p++)
            for (int j = 0; j < 2; j++)
                found += std::find(&got[(size_t)p * c.k], &got[(size_t)(p + 1) * c.k], o.labels[2 * p + j]) != &got[(size_t)(p + 1) * c.k];
        rs[i].outlier_recall = (double)found / (2.0 * c.outliers);
    }
}

void report(const std::vector<Result> &rs, const Config &c) {
    printf("\nbench_ann: n=%d dim=%d queries=%d M=%d ef_construction=%d k=%d, one thread, inner product on unit vectors%s\n",
           c.n, c.dim, c.nq, c.M, c.efc, c.k, c.cpu_time ? ", QPS from thread CPU time" : "");
    printf("%-9s %10s %10s", "library", "build s", "memory MB");
    for (double t : TARGETS) printf("   QPS@%.2f (ef)", t);
    if (c.outliers > 0) printf("   outliers@ef%d", OUTLIER_EF);
    printf("\n");
    for (auto &r : rs) {
        printf("%-9s %10.1f %10.0f", r.name.c_str(), r.build_s, r.mem_mb);
        for (double t : TARGETS) {
            const Point *p = at_target(r, t);
            if (p) printf("   %8.0f (%4d)", p->qps, p->ef);
            else printf("   %15s", "not reached");
        }
        if (c.outliers > 0) printf("   %13.3f", r.outlier_recall);
        printf("\n");
    }
    for (size_t i = 1; i < rs.size(); i++) {
        printf("retrace / %-8s build time %.2fx", rs[i].name.c_str(), rs[0].build_s / rs[i].build_s);
        for (double t : TARGETS) {
            const Point *a = at_target(rs[0], t), *b = at_target(rs[i], t);
            if (a && b) printf("   QPS@%.2f %.2fx", t, a->qps / b->qps);
        }
        printf("\n");
    }
}

} // namespace

int main(int argc, char **argv) {
    Config c;
    for (int i = 1; i < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--no-faiss" || a == "--cpu-time") { // flags without a value
            if (a == "--no-faiss") c.faiss = false;
            else c.cpu_time = true;
            i--;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_ann: %s needs a value\n", argv[i]);
            return 2;
        }
        long v = atol(argv[i + 1]);
        if (a == "--n") c.n = (int)v;
        else if (a == "--dim") c.dim = (int)v;
        else if (a == "--nq") c.nq = (int)v;
        else if (a == "--M") c.M = (int)v;
        else if (a == "--efc") c.efc = (int)v;
        else if (a == "--seed") c.seed = (uint64_t)v;
        else if (a == "--outliers") c.outliers = (int)v;
        else if (a == "--cache") c.cache = argv[i + 1];
        else {
            fprintf(stderr, "bench_ann: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    std::string gt_path = cache_path(c, "gt"), rt_path = cache_path(c, "retrace"), hl_path = cache_path(c, "hnswlib");
    auto have = [&c](const std::string &p) { return !c.cache.empty() && rt_path_exists(p.c_str()); };
    bool cached = have(gt_path);
    // The base vectors are needed only for what is built.
    bool need_base = !cached || !have(rt_path) || !have(hl_path) || c.faiss;
    fprintf(stderr, "generating %d + %d vectors of dim %d\n", need_base ? c.n : 0, c.nq, c.dim);
    std::vector<float> base;
    if (need_base) base = make_vectors(c.n, c, 1);
    Outliers outl = plant_outliers(base, c);
    if (c.outliers > 0 && !base.empty())
        fprintf(stderr, "planted %d isolated pairs; %d are exactly their query's two nearest\n", c.outliers, pairs_nearest(base, outl, c));
    auto q = make_vectors(c.nq, c, 2);
    std::vector<int64_t> gt((size_t)c.nq * c.k);
    if (cached) {
        char *data;
        size_t len;
        if (rt_file_read(gt_path.c_str(), &data, &len) != RT_OK || len != gt.size() * sizeof(int64_t)) {
            fprintf(stderr, "bench_ann: %s: unreadable or wrong size\n", gt_path.c_str());
            return 1;
        }
        memcpy(gt.data(), data, len);
        free(data);
    } else {
        double t0 = rt_now();
        gt = ground_truth(base, q, c);
        fprintf(stderr, "ground truth in %.1f s\n", rt_now() - t0);
        if (!c.cache.empty()) {
            FILE *f = fopen(gt_path.c_str(), "wb");
            if (!f || fwrite(gt.data(), sizeof(int64_t), gt.size(), f) != gt.size() || fclose(f) != 0) {
                fprintf(stderr, "bench_ann: cannot write %s\n", gt_path.c_str());
                return 1;
            }
        }
    }
    omp_set_num_threads(1); // single-threaded from here on, for every library
    rt_set_threads(1);
    // The indexes stay alive until exit (the process ends; nothing to gain from tearing them down).
    std::vector<Result> rs(c.faiss ? 3 : 2);
    std::vector<SearchFn> fns;
    fns.push_back(build_retrace(rs[0], base, c));
    fns.push_back(build_hnswlib(rs[1], base, c));
    if (c.faiss) fns.push_back(build_faiss(rs[2], base, c));
    if (c.outliers > 0) outlier_recall(rs, fns, outl, OUTLIER_EF, c);
    sweep_all(rs, fns, q, gt, c);
    report(rs, c);
    return 0;
}
