#pragma once
// Reads back the words an exported chart holds: the <text> elements of an SVG and the
// text layer of a PDF (pdftotext, from poppler-utils), so a test can check that the
// title and the axis labels made it into the file, not just that the file opens.
#include <QFile>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QXmlStreamReader>

namespace moescope::test {

// Every <text> of the SVG, one a line; the document's <title> first.
inline QString svgText(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    QXmlStreamReader svg(&file);
    QStringList texts;
    while (!svg.atEnd()) {
        if (svg.readNext() == QXmlStreamReader::StartElement &&
            (svg.name() == u"text" || svg.name() == u"title"))
            texts << svg.readElementText(QXmlStreamReader::IncludeChildElements).trimmed();
    }
    return svg.hasError() ? QStringLiteral("(not XML: %1)").arg(svg.errorString()) : texts.join(u'\n');
}

// The PDF's text as pdftotext lays it out (its default layout keeps rotated axis labels).
inline QString pdfText(const QString &path)
{
    QProcess pdftotext;
    pdftotext.start(QStringLiteral("pdftotext"), {path, QStringLiteral("-")});
    if (!pdftotext.waitForFinished(60000) || pdftotext.exitCode() != 0)
        return QStringLiteral("(pdftotext failed: %1)").arg(QString::fromLocal8Bit(pdftotext.readAllStandardError()));
    return QString::fromUtf8(pdftotext.readAllStandardOutput());
}

} // namespace moescope::test
