import { describe, expect, it } from 'vitest'
import { BUNDLE_SECTION_END as END, BUNDLE_SECTION_START as START, bundleSection, withBundleSection } from './section.js'

const section = (body: string): string => `${START}\n${body}\n${END}`

describe('the bundle section of RESULTS.md', () => {
  it.each([
    { name: 'appended to a file without one', before: '# Results\n', with: section('new'), after: `# Results\n\n${section('new')}\n` },
    { name: 'replaced where it was', before: `# Results\n\n${section('old')}\n\nmore\n`, with: section('new'), after: `# Results\n\n${section('new')}\n\nmore\n` },
    { name: 'left alone when there is nothing to carry over', before: '# Results\n', with: null, after: '# Results\n' }
  ])('$name', ({ before, with: next, after }) => {
    expect(withBundleSection(before, next)).toBe(after)
  })

  it('is found between its markers, markers included', () => {
    expect(bundleSection(`a\n${section('x')}\nb`)).toBe(section('x'))
    expect(bundleSection('no markers')).toBeNull()
  })
})
