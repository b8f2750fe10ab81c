#pragma once
// Small dumps for the UI tests: random logits with specialised experts (the support
// fixture), labelled sequences and a /training group, so every view has data.
#include "support/DumpFixture.h"
#include "support/TempDump.h"

#include <QSettings>
#include <QTemporaryDir>

namespace moescope::test {

inline DumpFixture uiFixture(int tokens = 600, int experts = 8, int topK = 2, int layers = 3, bool training = true)
{
    DumpFixture f = randomFixture(tokens, experts, topK, layers, 7);
    f.sequenceOffsets = {0, tokens / 3, 2 * tokens / 3, tokens};
    f.sequenceLabels = {"python", "english", "german"};
    f.stringAttributes["model"] = "test-moe";
    f.stringAttributes["checkpoint"] = "ckpt-1";
    if (training) {
        const int N = 5;
        for (int i = 0; i < N; ++i) {
            f.trainingSteps.push_back(i * 100);
            for (int l = 0; l < layers; ++l) {
                f.trainingLb.push_back(topK * (1.5 - 0.1 * i) + 0.01 * l);
                f.trainingZ.push_back(2.0 - 0.2 * i + 0.05 * l);
                for (int e = 0; e < experts; ++e)
                    f.trainingTokens.push_back(100 + 10 * e + i);
            }
        }
    }
    return f;
}

// Keeps the tests' QSettings (recent files, window state) out of the user's own.
inline void isolateSettings(QTemporaryDir &dir)
{
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir.path());
}

} // namespace moescope::test
